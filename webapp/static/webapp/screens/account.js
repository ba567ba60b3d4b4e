import * as api from "../api.js";
import { field, h, say, show, values } from "../dom.js";

function action(label, run) {
  return async (event) => {
    event.preventDefault();
    try {
      await run(values(event.target));
      event.target.reset();
      say(label);
    } catch (error) {
      say(error.message);
    }
  };
}

export async function accountScreen() {
  const me = await api.call("GET", "auth/me/");
  show(
    h("h1", {}, "Account"),
    h("dl", {}, h("dt", {}, "Username"), h("dd", {}, me.username), h("dt", {}, "Email"), h("dd", {}, me.email || "none"),
      h("dt", {}, "Member since"), h("dd", {}, new Date(me.date_joined).toLocaleDateString())),
    h(
      "form",
      { "aria-labelledby": "pw-title", onsubmit: action("Password changed; other sessions are signed out.", (v) => api.changePassword(v.current_password, v.new_password)) },
      h("h2", { id: "pw-title" }, "Change password"),
      field("Current password", h("input", { id: "pw-current", name: "current_password", type: "password", autocomplete: "current-password", required: true })),
      field("New password", h("input", { id: "pw-new", name: "new_password", type: "password", autocomplete: "new-password", required: true })),
      h("button", { type: "submit" }, "Change password"),
    ),
    h(
      "form",
      {
        "aria-labelledby": "del-title",
        onsubmit: action("Account deleted.", async (v) => {
          if (!confirm("Delete your account and every card, for good?")) return;
          await api.deleteAccount(v.password);
          location.hash = "";
          location.reload();
        }),
      },
      h("h2", { id: "del-title" }, "Delete account"),
      h("p", {}, "Every card, review and statistic goes with it."),
      field("Password", h("input", { id: "del-password", name: "password", type: "password", autocomplete: "current-password", required: true })),
      h("button", { type: "submit", class: "danger" }, "Delete my account"),
    ),
  );
}
