// The page's entry point: the three views (chosen by the URL's fragment), the service's
// health line and the API token field.

import { getToken, request, setToken } from "./api.js";
import { initAnalyse } from "./analyse.js";
import { initLibrary, showLibrary } from "./library.js";
import { initPlaylist, showPlaylist } from "./playlist.js";

const VIEWS = ["analyse", "library", "playlist"];
const NAMES = { analyse: "Analyse", library: "Library", playlist: "Playlist" };
const $ = (id) => document.getElementById(id);

/** Show the view the fragment names (#analyse by default); `focus` moves focus to its heading. */
function route({ focus }) {
  const wanted = location.hash.replace(/^#/, "");
  if (wanted && !VIEWS.includes(wanted) && document.body.dataset.view) return; // e.g. the skip link's #main
  const view = VIEWS.includes(wanted) ? wanted : "analyse";
  for (const v of VIEWS) {
    $(`view-${v}`).hidden = v !== view;
    const link = $(`nav-${v}`);
    if (v === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${NAMES[view]} · mer`;
  document.body.dataset.view = view;
  if (view === "library") showLibrary();
  if (view === "playlist") showPlaylist();
  if (focus) $(`${view}-title`).focus();
}

async function health() {
  const line = $("service-info");
  try {
    const h = await request("health");
    const library = h.library ? `library ${h.library}` : "no library (start with `mer serve --db FILE`)";
    line.textContent = `mer ${h.version} · model ${h.model} · ${library}`;
    line.dataset.state = "ok";
    $("library-source").textContent = h.library
      ? `The tracks of ${h.library}. Filter them, choose one to play it.`
      : "This server has no library: make one with `mer scan PATHS --db FILE`, then start `mer serve --db FILE`.";
  } catch (err) {
    line.textContent = `The mer service does not answer: ${err.message}`;
    line.dataset.state = "error";
  }
}

function initToken() {
  const input = $("api-token");
  input.value = getToken();
  input.addEventListener("input", () => setToken(input.value.trim())); // kept for this tab's session
  $("token-form").addEventListener("submit", (ev) => ev.preventDefault()); // Enter: nothing to send
}

function main() {
  initToken();
  initAnalyse();
  initLibrary();
  initPlaylist();
  window.addEventListener("hashchange", () => route({ focus: true }));
  route({ focus: false });
  health();
  document.body.dataset.ready = "true"; // for tests: every handler is attached
}

main();
