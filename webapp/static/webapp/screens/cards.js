// Cards and categories: the list as the API pages it, and every write on them.
import * as api from "../api.js";
import { field, h, say, show, values } from "../dom.js";

const ORDERINGS = [
  ["-created_at", "Newest first"], ["created_at", "Oldest first"], ["title", "Title A-Z"],
  ["-title", "Title Z-A"], ["-updated_at", "Recently edited"],
];

// Note: neither a card nor the card list says where its schedule is, so pausing from here pages
// through the schedules until it meets the card.
async function scheduleOf(contentId) {
  for (let page = 1; ; page += 1) {
    const answer = await api.call("GET", `review/schedules/?page=${page}&page_size=100`);
    const found = answer.results.find((schedule) => schedule.content_id === contentId);
    if (found || !answer.next) return found;
  }
}

export async function cardsScreen() {
  const query = { search: "", category_slug: "", ordering: "-created_at", page: 1 };
  let categories = [];
  const list = h("div", { id: "card-list" });
  const categoryList = h("ul", { id: "category-list" });
  const categorySelect = h("select", { id: "filter-category", name: "category_slug" });
  const editor = h("div", { id: "card-editor" });

  // The filter names a category by slug, a card's form by id.
  function categoryOptions(select, selected, blank, key) {
    select.replaceChildren(h("option", { value: "" }, blank),
      ...categories.map((c) => h("option", { value: String(c[key]), selected: String(c[key]) === String(selected) }, c.name)));
  }

  async function loadCategories() {
    categories = await api.call("GET", "content/categories/");
    categoryOptions(categorySelect, query.category_slug, "All categories", "slug");
    categoryList.replaceChildren(...categories.map((category) => h("li", {},
      h("span", {}, category.name),
      h("button", { type: "button", class: "quiet", "aria-label": `Rename category ${category.name}`, onclick: () => renameCategory(category) }, "Rename"),
      h("button", { type: "button", class: "quiet danger", "aria-label": `Delete category ${category.name}`, onclick: () => deleteCategory(category) }, "Delete"))));
  }

  async function loadCards() {
    const params = new URLSearchParams({ page: query.page, ordering: query.ordering });
    if (query.search) params.set("search", query.search);
    if (query.category_slug) params.set("category_slug", query.category_slug);
    const page = await api.call("GET", `content/?${params}`);
    list.replaceChildren(
      h("p", { id: "card-count" }, `${page.count} card${page.count === 1 ? "" : "s"}`),
      h("ul", { class: "cards" }, page.results.map(cardRow)),
      h("nav", { class: "pager", "aria-label": "Pages of cards" },
        h("button", { type: "button", disabled: !page.previous, onclick: () => turn(-1) }, "Previous"),
        h("span", { "aria-live": "polite" }, `Page ${page.page} of ${page.total_pages}`),
        h("button", { type: "button", disabled: !page.next, onclick: () => turn(1) }, "Next")),
    );
  }

  function turn(step) {
    query.page += step;
    run(loadCards);
  }

  function cardRow(card) {
    return h("li", { class: "card-row" },
      h("div", {}, h("strong", {}, card.title), card.category ? h("span", { class: "category" }, ` ${card.category.name}`) : null,
        h("p", { class: "body" }, card.body)),
      h("div", { class: "actions" },
        h("button", { type: "button", "aria-label": `Edit ${card.title}`, onclick: () => edit(card) }, "Edit"),
        h("button", { type: "button", "aria-label": `Schedule of ${card.title}`, onclick: () => schedule(card) }, "Schedule"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete ${card.title}`, onclick: () => remove(card) }, "Delete")));
  }

  function edit(card) {
    const category = h("select", { id: "card-category", name: "category_id" });
    categoryOptions(category, card?.category?.id ?? "", "No category", "id");
    editor.replaceChildren(h("form", { "aria-labelledby": "editor-title", onsubmit: (event) => save(event, card) },
      h("h2", { id: "editor-title" }, card ? `Edit "${card.title}"` : "New card"),
      field("Front (title)", h("input", { id: "card-title-input", name: "title", required: true, value: card?.title ?? "" })),
      field("Back (body)", h("textarea", { id: "card-body-input", name: "body", rows: "4", value: card?.body ?? "" })),
      field("Category", category),
      h("button", { type: "submit" }, card ? "Save" : "Create"),
      h("button", { type: "button", class: "quiet", onclick: () => editor.replaceChildren() }, "Cancel")));
    editor.querySelector("input").focus();
  }

  async function save(event, card) {
    event.preventDefault();
    const { title, body, category_id } = values(event.target);
    const json = { title, body, category_id: category_id ? Number(category_id) : null };
    await run(async () => {
      if (card) await api.call("PATCH", `content/${card.id}/`, { json });
      else await api.call("POST", "content/", { json, headers: { "Idempotency-Key": api.idempotencyKey() } });
      editor.replaceChildren();
      say(card ? "Card saved." : "Card created.");
      await loadCards();
    });
  }

  async function remove(card) {
    if (!confirm(`Delete "${card.title}" and its review history?`)) return;
    await run(async () => {
      await api.call("DELETE", `content/${card.id}/`);
      say("Card deleted.");
      await loadCards();
    });
  }

  async function schedule(card) {
    await run(async () => {
      const found = await scheduleOf(card.id);
      if (!found) return say(`"${card.title}" has no schedule.`);
      const toggle = async () => run(async () => {
        const updated = await api.call("PATCH", `review/schedules/${found.id}/`, { json: { is_active: !found.is_active } });
        say(updated.is_active ? `Resumed "${card.title}".` : `Paused "${card.title}".`);
        editor.replaceChildren();
      });
      editor.replaceChildren(h("section", { "aria-labelledby": "schedule-title" },
        h("h2", { id: "schedule-title" }, `Schedule of "${card.title}"`),
        h("p", {}, found.is_active ? `Active; next review ${found.next_review_date}.` : "Paused: it is never due until resumed."),
        h("button", { type: "button", onclick: toggle }, found.is_active ? "Pause" : "Resume")));
    });
  }

  async function addCategory(event) {
    event.preventDefault();
    const form = event.target;
    await run(async () => {
      await api.call("POST", "content/categories/", { json: { name: values(form).name }, headers: { "Idempotency-Key": api.idempotencyKey() } });
      form.reset();
      await loadCategories();
    });
  }

  async function renameCategory(category) {
    const name = prompt("New name", category.name);
    if (name) await run(async () => {
      await api.call("PATCH", `content/categories/${category.id}/`, { json: { name } });
      await loadCategories();
      await loadCards();
    });
  }

  async function deleteCategory(category) {
    if (confirm(`Delete the category "${category.name}"? Its cards stay, uncategorised.`)) await run(async () => {
      await api.call("DELETE", `content/categories/${category.id}/`);
      await loadCategories();
      await loadCards();
    });
  }

  async function run(work) {
    try {
      await work();
    } catch (error) {
      say(error.message);
    }
  }

  let typing = null;
  const filters = h("form", { class: "filters", role: "search", onsubmit: (event) => event.preventDefault() },
    field("Search", h("input", { id: "filter-search", type: "search", name: "search", oninput: (event) => {
      clearTimeout(typing);
      typing = setTimeout(() => {
        Object.assign(query, { search: event.target.value, page: 1 });
        run(loadCards);
      }, 300); // one read when typing pauses, not one per key
    } })),
    field("Category", categorySelect),
    field("Order", h("select", { id: "filter-ordering", name: "ordering" }, ORDERINGS.map(([value, label]) => h("option", { value }, label)))));
  filters.addEventListener("change", (event) => {
    if (event.target.name === "search") return;
    Object.assign(query, { [event.target.name]: event.target.value, page: 1 });
    run(loadCards);
  });

  show(
    h("h1", {}, "Cards"),
    h("p", {}, h("button", { type: "button", id: "new-card", onclick: () => edit(null) }, "New card")),
    editor,
    filters,
    list,
    h("section", { "aria-labelledby": "categories-title" },
      h("h2", { id: "categories-title" }, "Categories"),
      categoryList,
      h("form", { onsubmit: addCategory, class: "inline" },
        field("New category", h("input", { id: "new-category", name: "name", required: true })),
        h("button", { type: "submit" }, "Add category"))),
  );
  await loadCategories();
  await loadCards();
}
