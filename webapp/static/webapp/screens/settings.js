// The learner's study settings: their day, the daily limits and the scheduler, as /api/auth/me/ keeps them.
import * as api from "../api.js";
import { field, h, say, show, values } from "../dom.js";

const NUMBERS = ["day_starts_at_hour", "new_cards_per_day", "reviews_per_day", "desired_retention"];

function number(name, value, { min, max, step = 1 }) {
  return h("input", { id: `set-${name}`, name, type: "number", value: String(value), min, max, step, required: true });
}

export async function settingsScreen() {
  const me = await api.call("GET", "auth/me/");
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const retention = field("Desired retention (FSRS: the chance you still recall a card when it is due)",
    number("desired_retention", me.desired_retention, { min: 0.7, max: 0.99, step: 0.01 }));
  const scheduler = h("select", { id: "set-scheduler", name: "scheduler", onchange: () => (retention.hidden = scheduler.value !== "fsrs") },
    h("option", { value: "ladder" }, "Ladder (fixed intervals)"),
    h("option", { value: "fsrs" }, "FSRS (adapts to your memory)"));
  scheduler.value = me.scheduler;
  retention.hidden = me.scheduler !== "fsrs";

  async function save(event) {
    event.preventDefault();
    const changes = values(event.target);
    for (const name of NUMBERS) changes[name] = Number(changes[name]);
    try {
      const saved = await api.call("PATCH", "auth/me/", { json: changes });
      say(`Settings saved: your day starts at ${saved.day_starts_at_hour}:00 in ${saved.time_zone}.`);
    } catch (error) {
      say(error.message);
    }
  }

  show(
    h("h1", {}, "Settings"),
    h(
      "form",
      { id: "settings", onsubmit: save },
      h("datalist", { id: "zones" }, zones.map((zone) => h("option", { value: zone }))),
      field("Time zone", h("input", { id: "set-time_zone", name: "time_zone", value: me.time_zone, list: "zones", required: true })),
      field("Your day starts at (hour, 0-23)", number("day_starts_at_hour", me.day_starts_at_hour, { min: 0, max: 23 })),
      field("New cards per day", number("new_cards_per_day", me.new_cards_per_day, { min: 0, max: 9999 })),
      field("Reviews per day", number("reviews_per_day", me.reviews_per_day, { min: 0, max: 9999 })),
      field("Scheduler", scheduler),
      retention,
      h("button", { type: "submit" }, "Save settings"),
    ),
  );
}
