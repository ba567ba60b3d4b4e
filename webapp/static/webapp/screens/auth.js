import * as api from "../api.js";
import { field, h, say, show, values } from "../dom.js";

const TITLES = { "sign-in": ["Sign in", "Sign in"], "sign-up": ["Create an account", "Sign up"], forgot: ["Forgot your password?", "Mail me a reset link"], reset: ["New password", "Set password"] };

function form(title, fields, submit, onDone) {
  return h(
    "form",
    {
      "aria-labelledby": `${title}-title`,
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await submit(values(event.target));
          onDone();
        } catch (error) {
          say(error.message);
        }
      },
    },
    h("h2", { id: `${title}-title` }, TITLES[title][0]),
    ...fields,
    h("button", { type: "submit" }, TITLES[title][1]),
  );
}

export function authScreen(onDone) {
  const signIn = form(
    "sign-in",
    [
      field("Username or email", h("input", { id: "in-username", name: "username", autocomplete: "username", required: true })),
      field("Password", h("input", { id: "in-password", name: "password", type: "password", autocomplete: "current-password", required: true })),
    ],
    ({ username, password }) => api.signIn(username, password),
    onDone,
  );
  const signUp = form(
    "sign-up",
    [
      field("Username", h("input", { id: "up-username", name: "username", autocomplete: "username", required: true })),
      field("Email (optional)", h("input", { id: "up-email", name: "email", type: "email", autocomplete: "email" })),
      field("Password", h("input", { id: "up-password", name: "password", type: "password", autocomplete: "new-password", required: true })),
    ],
    ({ username, email, password }) => api.signUp(username, email, password),
    onDone,
  );
  const forgot = form(
    "forgot",
    [field("Your account's email", h("input", { id: "forgot-email", name: "email", type: "email", autocomplete: "email", required: true }))],
    ({ email }) => api.call("POST", "auth/password/reset/", { json: { email } }),
    () => say("If an account has this email, a reset link is on its way."),
  );
  show(
    h("h1", {}, "Resee: remember what you learn"),
    h("p", {}, "Cards come back just before you would forget them. Sign in, or create an account to start."),
    h("div", { class: "columns" }, signIn, signUp),
    h("details", {}, h("summary", {}, "Forgot your password?"), forgot),
  );
}

// The page a reset mail links to (PASSWORD_RESET_URL = <this app>/#/reset/{uid}/{token}).
export function resetScreen(uid = "", token = "") {
  const done = () => show(h("h1", {}, "Password set"), h("p", {}, h("a", { href: "#/" }, "Sign in"), " with your new password."));
  show(
    h("h1", {}, "Choose a new password"),
    form(
      "reset",
      [
        field("Code from the mail (uid)", h("input", { id: "reset-uid", name: "uid", required: true, value: uid })),
        field("Token from the mail", h("input", { id: "reset-token", name: "token", required: true, value: token })),
        field("New password", h("input", { id: "reset-password", name: "new_password", type: "password", autocomplete: "new-password", required: true })),
      ],
      (fields) => api.call("POST", "auth/password/reset/confirm/", { json: fields }),
      done,
    ),
  );
}
