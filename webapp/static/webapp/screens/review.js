// The review loop: one read per page of today's cards, one write per answer, one per undo.
import * as api from "../api.js";
import { h, say, show } from "../dom.js";

// The grades POST /api/review/complete/ takes (its `result`), in the order of their digit keys.
const ANSWERS = [
  { result: "again", label: "Again" },
  { result: "hard", label: "Hard" },
  { result: "good", label: "Good" },
  { result: "easy", label: "Easy" },
];

// When a grade brings the card back, from the seconds today's item previews: "10m", "3d", "2mo".
export function span(seconds) {
  const minutes = seconds / 60, days = seconds / 86400;
  if (minutes < 60) return `${Math.max(1, Math.round(minutes))}m`;
  if (days < 1) return `${Math.round(minutes / 60)}h`;
  if (days < 31) return `${Math.round(days)}d`;
  if (days < 365) return `${Math.round(days / 30.4)}mo`;
  return `${(days / 365).toFixed(1)}y`;
}

export async function reviewScreen() {
  const state = { items: [], index: 0, left: 0, revealed: false, key: null, shownAt: 0 };

  // `first`: a card to show before the others (the one an undo brought back).
  async function load(first = null) {
    const page = await api.call("GET", "review/today/");
    const items = page.results;
    const at = items.findIndex((item) => item.content_id === first);
    if (at > 0) items.unshift(...items.splice(at, 1));
    Object.assign(state, { items, index: 0, left: page.count });
    draw();
  }

  function current() {
    return state.items[state.index];
  }

  function draw() {
    const item = current();
    if (!item) {
      show(h("h1", {}, "Review"), h("p", { id: "left" }, "Nothing left to review today. Well done."),
        h("p", {}, h("a", { href: "#/cards" }, "Add cards"), " or ", h("a", { href: "#/decks" }, "import a deck"), "."),
        undoButton());
      return;
    }
    Object.assign(state, { revealed: false, key: api.idempotencyKey(), shownAt: Date.now() });
    show(
      h("h1", {}, "Review"),
      h("p", { id: "left" }, `${state.left} left today`),
      h(
        "article",
        { class: "card", "aria-labelledby": "card-title" },
        item.category ? h("p", { class: "category" }, item.category.name) : null,
        h("h2", { id: "card-title" }, item.title),
        h("div", { id: "card-body", class: "body", hidden: true }, item.body || "(no back side)"),
      ),
      h("div", { class: "actions", id: "reveal-actions" },
        h("button", { type: "button", id: "reveal", onclick: reveal, "aria-keyshortcuts": "Space" }, "Show answer (space)")),
      h(
        "div",
        { class: "actions", id: "answers", hidden: true, role: "group", tabindex: "-1", "aria-label": "How well did you remember?" },
        ANSWERS.map((answer, i) =>
          h("button", { type: "button", "data-result": answer.result, "aria-keyshortcuts": String(i + 1), onclick: () => grade(answer.result) },
            `${i + 1} ${answer.label}`,
            item.intervals ? h("small", { class: "preview" }, span(item.intervals[answer.result])) : null)),
      ),
      h("p", { class: "actions" }, h("button", { type: "button", class: "quiet", onclick: pause }, "Pause this card"), undoButton()),
    );
    document.getElementById("reveal").focus();
  }

  function reveal() {
    state.revealed = true;
    document.getElementById("card-body").hidden = false;
    document.getElementById("reveal-actions").hidden = true;
    document.getElementById("answers").hidden = false;
    // Note: focus on the group, not a button, so the space that revealed cannot also press one.
    document.getElementById("answers").focus();
  }

  async function next() {
    state.index += 1;
    state.left -= 1;
    if (state.index < state.items.length) draw();
    else await load();
  }

  let busy = false;
  async function grade(result) {
    if (busy) return;
    busy = true;
    const item = current();
    const seconds = Math.min(Math.round((Date.now() - state.shownAt) / 1000), 24 * 3600);
    try {
      await api.call("POST", "review/complete/", {
        json: { content_id: item.content_id, result, time_spent_seconds: seconds },
        headers: { "Idempotency-Key": state.key },
      });
      await next();
    } catch (error) {
      say(`${error.message} Press the answer again to retry.`);
    } finally {
      busy = false;
    }
  }

  function undoButton() {
    return h("button", { type: "button", class: "quiet", id: "undo", "aria-keyshortcuts": "Z", onclick: undo }, "Undo last answer (z)");
  }

  // Takes back the latest answer (the server knows which) and shows its card again.
  async function undo() {
    if (busy) return;
    busy = true;
    try {
      const { undone } = await api.call("POST", "review/undo/", { headers: { "Idempotency-Key": api.idempotencyKey() } });
      await load(undone.content_id);
      say(`Took back your answer "${undone.result}" to "${undone.title}".`);
    } catch (error) {
      say(error.message);
    } finally {
      busy = false;
    }
  }

  async function pause() {
    try {
      await api.call("PATCH", `review/schedules/${current().id}/`, { json: { is_active: false } });
      say(`Paused "${current().title}": resume it from Cards.`);
      await next();
    } catch (error) {
      say(error.message);
    }
  }

  function onKey(event) {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (!current() && event.key !== "z") return;
    if (event.key === " " && event.target.closest("button")) return; // the button's own press
    if (event.key === "z") {
      event.preventDefault();
      undo();
    } else if (event.key === " " && !state.revealed) {
      event.preventDefault();
      reveal();
    } else if (state.revealed && ANSWERS[Number(event.key) - 1]) {
      event.preventDefault();
      grade(ANSWERS[Number(event.key) - 1].result);
    }
  }

  await load();
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
