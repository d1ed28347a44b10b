// Talking to the mer service's JSON API (/v1/...), with its error shape turned into messages.
//
// URLs are relative ("v1/analyze", not "/v1/analyze") so the page also works when the
// service sits behind a path prefix. Errors come as {"error": {"status": int, "message": str}}.

const TOKEN_KEY = "mer.api-token";

/** An answer of the API that is not a success, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }

  /** One line for a person: what went wrong and, where it helps, what to do. */
  describe() {
    if (this.status === 0) return this.message;
    let text = `${this.message} (HTTP ${this.status})`;
    if (this.status === 401) text += ". Enter the server's token under “API token” at the top of the page.";
    if (this.status === 503 && this.retryAfter) text += `. Try again in ${this.retryAfter} s.`;
    return text;
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives as long as the input's value */
  }
}

let sessionFor = "";

/**
 * With a token, have the server set its session cookie (POST v1/session), once per token:
 * the page's GETs that cannot send a header (the <audio> element) then get in.
 * @returns {Promise<void> | null} null when there is nothing to do (no token, or done already)
 */
export function ensureSession() {
  const token = getToken();
  if (!token || token === sessionFor) return null;
  return request("v1/session", { method: "POST", as: "text" }).then(() => {
    sessionFor = token;
  });
}

function authHeaders() {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** The error of a non-2xx answer, from its {"error": {...}} body when it has one. */
function errorFrom(status, statusText, bodyText, retryAfter) {
  let message = "";
  try {
    const body = JSON.parse(bodyText);
    if (body && body.error && body.error.message) message = String(body.error.message);
    else if (body && typeof body.detail === "string") message = body.detail;
  } catch {
    /* not JSON: fall back to the status line */
  }
  if (!message) message = statusText || "the server answered with an error";
  return new ApiError(status, message, retryAfter);
}

const UNREACHABLE = "Could not reach the mer service: is `mer serve` still running?";

/** GET or POST `path`; resolves with the parsed JSON (or text with {as: "text"}). */
export async function request(path, { method = "GET", json = undefined, as = "json" } = {}) {
  const headers = { ...authHeaders() };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch {
    throw new ApiError(0, UNREACHABLE);
  }
  const text = await response.text();
  if (!response.ok) {
    throw errorFrom(response.status, response.statusText, text, response.headers.get("Retry-After"));
  }
  if (as === "text") return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(response.status, "the server's answer is not JSON");
  }
}

/**
 * Upload `file` to POST v1/analyze as multipart field "file".
 * XMLHttpRequest rather than fetch: only it reports upload progress.
 * @param {File} file
 * @param {{onProgress?: (fraction: number) => void, onUploaded?: () => void}} callbacks
 * @returns {Promise<object>} the analysis (schema mer.analysis/1)
 */
export function uploadForAnalysis(file, { onProgress = () => {}, onUploaded = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "v1/analyze");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable && ev.total > 0) onProgress(ev.loaded / ev.total);
    };
    xhr.upload.onload = () => {
      onProgress(1);
      onUploaded();
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError(xhr.status, "the server's answer is not JSON"));
        }
      } else {
        reject(errorFrom(xhr.status, xhr.statusText, xhr.responseText, xhr.getResponseHeader("Retry-After")));
      }
    };
    xhr.onerror = () =>
      reject(new ApiError(0, `${UNREACHABLE} (A server refuses an upload over its size limit by closing ` +
        "the connection: see `mer serve --max-upload-mb`.)"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
