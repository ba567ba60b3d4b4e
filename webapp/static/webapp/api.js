// The public API as this app calls it: the browser session mode, where the refresh token is an
// HttpOnly cookie the API sets for /api/auth/ and the access token lives only in this module.

const SIGNED_IN = "resee.signedIn"; // not a secret: only whether a reload should try a refresh
let access = null;
let refreshing = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(body) || `The server answered ${status}.`);
    this.status = status;
    this.body = body;
  }
}

function describe(body) {
  if (!body || typeof body !== "object") return "";
  if (body.detail) return String(body.detail);
  return Object.entries(body).map(([name, errors]) => `${name}: ${[].concat(errors).join(" ")}`).join(" ");
}

// A fresh key per answer: a retry of the same answer reuses it and is never applied twice.
export function idempotencyKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function send(method, path, { json, form, headers = {} } = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (access) init.headers.Authorization = `Bearer ${access}`;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  if (form) init.body = form;
  return fetch(`/api/${path}`, init);
}

async function read(response) {
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// The raw response, after one refresh and retry when the access token has expired.
export async function fetchApi(method, path, options = {}) {
  let response = await send(method, path, options);
  if (response.status === 401 && access && (await refresh())) response = await send(method, path, options);
  return response;
}

export async function call(method, path, options = {}) {
  return read(await fetchApi(method, path, options));
}

export function signedIn() {
  return access !== null;
}

// A new access token from the cookie (no body: the API reads the cookie). One at a time.
export function refresh() {
  refreshing ??= fetch("/api/auth/token/refresh/", { method: "POST", credentials: "same-origin" })
    .then(async (response) => keep(response.ok ? (await response.json()).access : null))
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

function keep(token) {
  access = token;
  if (token) localStorage.setItem(SIGNED_IN, "1");
  else localStorage.removeItem(SIGNED_IN);
  return token !== null;
}

// On load: a refresh only when this browser signed in before, so a newcomer's first visit makes no
// call bound to fail.
export async function resume() {
  return localStorage.getItem(SIGNED_IN) ? refresh() : false;
}

export async function signIn(username, password) {
  const body = await call("POST", "auth/token/", { json: { username, password, session: "cookie" } });
  return keep(body.access);
}

export async function signUp(username, email, password) {
  await call("POST", "auth/register/", { json: { username, password, ...(email ? { email } : {}) } });
  return signIn(username, password);
}

export async function signOut() {
  try {
    await call("POST", "auth/logout/", { json: {} });
  } finally {
    keep(null);
  }
}

export async function changePassword(current_password, new_password) {
  const body = await call("POST", "auth/password/change/", { json: { current_password, new_password } });
  return keep(body.access);
}

export async function deleteAccount(password) {
  await call("DELETE", "auth/me/", { json: { password } });
  keep(null);
}
