// Statistics: the stats answer's summary, success by category and a chart drawn here as SVG.
import * as api from "../api.js";
import { h, show } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

const percent = (rate) => (rate === null || rate === undefined ? "no reviews yet" : `${Math.round(rate)}%`);

function chart(days) {
  const width = 600, height = 160, top = 16, bar = width / days.length;
  const most = Math.max(1, ...days.map((day) => day.reviews));
  const bars = days.map((day, i) => {
    const tall = ((height - top) * day.reviews) / most;
    return svg("rect", { x: i * bar + 1, y: height - tall, width: bar - 2, height: tall, class: "bar" },
      svg("title", {}, `${day.date}: ${day.reviews} review${day.reviews === 1 ? "" : "s"}`));
  });
  const total = days.reduce((sum, day) => sum + day.reviews, 0);
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "chart-title", class: "chart", id: "reviews-chart" },
    svg("title", { id: "chart-title" }, `Reviews per day, ${days[0]?.date} to ${days.at(-1)?.date}: ${total} in all, at most ${most} a day`),
    svg("text", { x: 0, y: 12, class: "axis" }, `max ${most}`),
    ...bars);
}

export async function statsScreen() {
  const stats = await api.call("GET", "analytics/stats/");
  const s = stats.summary;
  const figures = [
    ["Due now", s.due], ["Overdue", s.overdue], ["New", s.new], ["Reviewed today", s.reviews_today],
    ["Reviews, last 30 days", s.reviews_last_30_days], ["Success rate", percent(s.success_rate)],
    ["Retention (hard counts as a pass)", percent(s.retention)], ["Leeches", s.leeches],
    ["Streak", `${s.current_streak_days} day${s.current_streak_days === 1 ? "" : "s"}`],
  ];
  show(
    h("h1", {}, "Statistics"),
    h("dl", { class: "summary", id: "summary" }, figures.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, String(value))))),
    h("h2", {}, "Reviews per day"),
    chart(stats.reviews_per_day),
    h("h2", { id: "by-category-title" }, "Success by category"),
    stats.success_rate_by_category.length
      ? h("table", { "aria-labelledby": "by-category-title", id: "by-category" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Category"), h("th", { scope: "col" }, "Reviews"), h("th", { scope: "col" }, "Remembered"), h("th", { scope: "col" }, "Retention"))),
          h("tbody", {}, stats.success_rate_by_category.map((row) =>
            h("tr", {}, h("th", { scope: "row" }, row.name ?? "No category"), h("td", {}, String(row.reviews)), h("td", {}, percent(row.success_rate)), h("td", {}, percent(row.retention))))))
      : h("p", {}, "No reviews yet."),
    h("p", {}, `${stats.total_contents} cards, ${stats.total_reviews} reviews in all.`),
  );
}
