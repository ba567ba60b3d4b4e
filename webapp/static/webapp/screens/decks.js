// Decks: an import runs as a job on the server; this screen polls it for the progress bar.
import * as api from "../api.js";
import { field, h, say, show } from "../dom.js";

const POLL_MS = 500;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow(job, progress, report) {
  for (;;) {
    progress.max = Math.max(job.total, 1);
    progress.value = job.processed;
    report.textContent = `${job.state}: ${job.processed} of ${job.total || "?"} rows, ${job.created} new, ${job.skipped} skipped`;
    if (job.state === "succeeded" || job.state === "failed") return job;
    await sleep(POLL_MS);
    job = await api.call("GET", `imports/${job.id}/`);
  }
}

async function importDeck(event, progress, report) {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const started = await api.call("POST", "imports/", { form, headers: { "Idempotency-Key": api.idempotencyKey() } });
    progress.hidden = false;
    const job = await follow(await api.call("GET", `imports/${started.id}/`), progress, report);
    const errors = job.errors?.length ? ` Problems: ${job.errors.map((e) => e.message ?? JSON.stringify(e)).join("; ")}` : "";
    say(job.state === "succeeded" ? `Imported: ${job.created} new cards.${errors}` : `The import failed: ${job.message}${errors}`);
  } catch (error) {
    say(error.message);
  }
}

// Note: the export needs the Authorization header, so it is fetched, then saved from memory.
async function exportDeck(format) {
  try {
    const response = await api.fetchApi("GET", `exports/?format=${format}`);
    if (!response.ok) throw new api.ApiError(response.status, await response.json().catch(() => null));
    const name = /filename="?([^";]+)/.exec(response.headers.get("Content-Disposition") ?? "")?.[1] ?? `resee.${format}`;
    const link = h("a", { href: URL.createObjectURL(await response.blob()), download: name });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (error) {
    say(error.message);
  }
}

export function decksScreen() {
  const progress = h("progress", { id: "import-progress", max: 1, value: 0, hidden: true, "aria-label": "Import progress" });
  const report = h("p", { id: "import-report", "aria-live": "polite" });
  show(
    h("h1", {}, "Decks"),
    h("form", { "aria-labelledby": "import-title", onsubmit: (event) => importDeck(event, progress, report) },
      h("h2", { id: "import-title" }, "Import"),
      h("p", {}, "A CSV of front,back[,category] rows, or an Anki deck (.apkg, .colpkg). Cards you already have are skipped."),
      field("Deck file", h("input", { id: "deck-file", name: "file", type: "file", accept: ".csv,.apkg,.colpkg,text/csv", required: true })),
      h("button", { type: "submit" }, "Import"),
      progress,
      report),
    h("section", { "aria-labelledby": "export-title" },
      h("h2", { id: "export-title" }, "Export"),
      h("p", {}, "Every card you have, to keep or to take elsewhere."),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => exportDeck("csv") }, "Download CSV"),
        h("button", { type: "button", onclick: () => exportDeck("apkg") }, "Download Anki deck"))),
  );
}
