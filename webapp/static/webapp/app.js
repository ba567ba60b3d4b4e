// The app's shell: sign-in state, the hash router and the navigation.
import * as api from "./api.js";
import { say } from "./dom.js";
import { accountScreen } from "./screens/account.js";
import { authScreen, resetScreen } from "./screens/auth.js";
import { cardsScreen } from "./screens/cards.js";
import { decksScreen } from "./screens/decks.js";
import { reviewScreen } from "./screens/review.js";
import { settingsScreen } from "./screens/settings.js";
import { statsScreen } from "./screens/stats.js";

const SCREENS = { review: reviewScreen, cards: cardsScreen, decks: decksScreen, stats: statsScreen, settings: settingsScreen, account: accountScreen };
let leave = null; // what the current screen undoes when another takes its place (key handlers)

async function route() {
  leave?.();
  leave = null;
  say("");
  const nav = document.querySelector("nav");
  nav.hidden = !api.signedIn();
  const [first, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const name = first || "review";
  if (name === "reset") return resetScreen(...rest);
  if (!api.signedIn()) return authScreen(start);
  const screen = SCREENS[name] ?? reviewScreen;
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    leave = await screen();
  } catch (error) {
    if (error.status === 401 && !api.signedIn()) return route(); // the session ended elsewhere
    say(error.message);
  }
}

function start() {
  if (location.hash === "" || location.hash === "#/") location.hash = "#/review"; // routes on hashchange
  else route();
}

document.getElementById("sign-out").addEventListener("click", async () => {
  await api.signOut().catch((error) => say(error.message));
  location.hash = "";
  route();
});
window.addEventListener("hashchange", route);
api.resume().then(route);
