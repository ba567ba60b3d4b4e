import * as api from "../api.js";
import { field, h, say, show, values } from "../dom.js";

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
    h("h2", { id: `${title}-title` }, title === "sign-in" ? "Sign in" : "Create an account"),
    ...fields,
    h("button", { type: "submit" }, title === "sign-in" ? "Sign in" : "Sign up"),
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
  show(
    h("h1", {}, "Resee: remember what you learn"),
    h("p", {}, "Cards come back just before you would forget them. Sign in, or create an account to start."),
    h("div", { class: "columns" }, signIn, signUp),
  );
}
