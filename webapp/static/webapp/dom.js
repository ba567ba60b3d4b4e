// A small element builder: h("button", {type: "button", onclick}, "Save").
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "value" || (name in element && typeof value !== "string")) element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

// The screen's content replaced, and focus on its heading for screen readers and keyboards.
export function show(...children) {
  const main = document.getElementById("main");
  main.replaceChildren(...children);
  const heading = main.querySelector("h1");
  heading?.setAttribute("tabindex", "-1");
  heading?.focus();
}

export function say(message) {
  document.getElementById("status").textContent = message;
}

// A labelled form field; `input` is the control itself.
export function field(label, input) {
  const id = input.id || `f-${label.toLowerCase().replace(/\W+/g, "-")}`;
  input.id = id;
  return h("p", { class: "field" }, h("label", { for: id }, label), input);
}

export function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}
