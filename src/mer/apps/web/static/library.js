// The Library view: GET v1/tracks with filters, as a table and as a scatter on the
// circumplex; a row or a point plays the file and shows its details and timeline.

import { ApiError, request } from "./api.js";
import { Circumplex, QUADRANTS, drawTimeChart } from "./circumplex.js";
import { play } from "./player.js";
import {
  badge, clearError, clock, h, showError, showFlags, showProbabilities, showQuadrant, signed, trackName,
} from "./render.js";

const $ = (id) => document.getElementById(id);
const PAGE = 100;

const state = { offset: 0, total: 0, tracks: [], selected: null, loaded: false, circumplex: null };

export function initLibrary() {
  state.circumplex = new Circumplex($("library-circumplex"));
  const form = $("library-filters");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.offset = 0;
    load();
  });
  form.addEventListener("reset", () => {
    // after the browser has cleared the fields
    setTimeout(() => {
      state.offset = 0;
      load();
    });
  });
  $("library-prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE);
    load();
  });
  $("library-next").addEventListener("click", () => {
    state.offset += PAGE;
    load();
  });
  $("track-similar").addEventListener("click", () => {
    if (state.selected) similar(state.selected);
  });
  $("track-playlist-from").addEventListener("click", () => {
    if (!state.selected) return;
    $("pl-from").value = String(state.selected.id);
    location.hash = "#playlist";
  });
}

/** Load the library the first time the view is shown. */
export function showLibrary() {
  if (!state.loaded) load();
}

/** The query string of the filters, or throws an ApiError-like message for a bad range. */
function query() {
  const params = new URLSearchParams();
  const quadrants = [...document.querySelectorAll("#library-filters input[name=quadrant]:checked")].map((c) => c.value);
  if (quadrants.length) params.set("quadrant", quadrants.join(","));
  for (const key of ["valence", "arousal"]) {
    const lo = $(`filter-${key}-min`).value.trim();
    const hi = $(`filter-${key}-max`).value.trim();
    if (!lo && !hi) continue;
    const a = lo ? Number(lo) : -1;
    const b = hi ? Number(hi) : 1;
    if (Number.isNaN(a) || Number.isNaN(b)) throw new ApiError(0, `${key}: enter numbers between -1 and 1`);
    if (a > b) throw new ApiError(0, `${key}: “from” (${a}) is above “to” (${b})`);
    params.set(key, `${a}:${b}`);
  }
  const glob = $("filter-path").value.trim();
  if (glob) params.set("path", glob);
  params.set("limit", String(PAGE));
  params.set("offset", String(state.offset));
  return params;
}

async function load() {
  const status = $("library-status");
  const error = $("library-error");
  clearError(error);
  let params;
  try {
    params = query();
  } catch (err) {
    showError(error, err);
    return;
  }
  status.textContent = "Loading the library…";
  $("library-table").setAttribute("aria-busy", "true");
  try {
    const answer = await request(`v1/tracks?${params}`);
    state.loaded = true;
    state.total = answer.total;
    state.tracks = answer.tracks;
    render();
  } catch (err) {
    status.textContent = "";
    showError(error, err);
  } finally {
    $("library-table").removeAttribute("aria-busy");
  }
}

function render() {
  const { tracks, total, offset } = state;
  const first = tracks.length ? offset + 1 : 0;
  const shown = tracks.length;
  $("library-status").textContent = total === 0
    ? "No track matches these filters."
    : `${total} track${total === 1 ? "" : "s"} match${total === 1 ? "es" : ""}; showing ${first}–${offset + shown}.`;
  $("library-status").dataset.total = total;
  $("library-page").textContent = total > PAGE ? `${first}–${offset + shown} of ${total}` : "";
  $("library-prev").disabled = offset === 0;
  $("library-next").disabled = offset + shown >= total;
  const body = $("library-rows");
  body.replaceChildren(...tracks.map(row));
  scatter();
  if (state.selected) highlight(state.selected.id);
}

function row(track) {
  const tr = h("tr", { attrs: { "data-track-id": track.id, "data-quadrant": track.quadrant ?? "" } });
  const name = h("td", { cls: "track-cell" });
  const button = h("button", {
    cls: "link",
    attrs: { type: "button", "data-testid": "track-play", "aria-label": `Play ${trackName(track)}` },
  });
  button.append(...breakable(trackName(track)));
  button.addEventListener("click", (ev) => {
    ev.stopPropagation();
    select(track);
  });
  name.append(button);
  if (track.artist) name.append(h("span", { cls: "artist", text: track.artist }));
  const quadrant = h("td");
  if (track.quadrant) quadrant.append(badge(track.quadrant), " ", QUADRANTS[track.quadrant].short);
  else quadrant.append(track.status === "ok" ? "–" : track.status);
  tr.append(
    name, quadrant,
    h("td", { cls: "num", text: signed(track.valence) }),
    h("td", { cls: "num", text: signed(track.arousal) }),
    h("td", { cls: "num wide-only", text: clock(track.duration_s) }),
    h("td", { cls: "num wide-only", text: track.tempo_bpm ? `${Math.round(track.tempo_bpm)}` : "–" }),
    h("td", { cls: "wide-only", text: (track.flags || []).join(", ") }),
  );
  tr.addEventListener("click", () => select(track)); // the whole row, for the mouse
  return tr;
}

/** `text` as nodes with a line-break opportunity (<wbr>) after each _ - . / and space: a
 * narrow column breaks "Q1_MT0000082187.mp3" after "Q1_", not inside the number. */
function breakable(text) {
  const nodes = [];
  for (const part of text.split(/(?<=[_\-./ ])/)) nodes.push(part, h("wbr"));
  nodes.pop();
  return nodes;
}

function scatter() {
  const c = state.circumplex;
  c.clear();
  for (const track of state.tracks) {
    if (track.valence === null || track.valence === undefined) continue;
    const label = `${trackName(track)}: ${track.quadrant} ${QUADRANTS[track.quadrant]?.words ?? ""}, ` +
      `valence ${signed(track.valence)}, arousal ${signed(track.arousal)}`;
    const dot = c.point(track.valence, track.arousal, {
      r: 6, cls: "library-point", quadrant: track.quadrant, label,
      attrs: { tabindex: 0, role: "button", "aria-label": `Play ${label}`, "data-track-id": track.id },
    });
    dot.addEventListener("click", () => select(track));
    dot.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        select(track);
      }
    });
  }
}

function highlight(id) {
  for (const tr of document.querySelectorAll("#library-rows tr")) {
    const on = tr.dataset.trackId === String(id);
    tr.classList.toggle("selected", on);
    if (on) tr.setAttribute("aria-current", "true");
    else tr.removeAttribute("aria-current");
  }
  for (const dot of document.querySelectorAll("#library-circumplex .library-point")) {
    dot.classList.toggle("selected", dot.dataset.trackId === String(id));
  }
}

/** The tracks most like `track` (GET v1/tracks/{id}/similar), each a button that selects it. */
async function similar(track) {
  const section = $("track-similar-section");
  const list = $("track-similar-list");
  const status = $("track-similar-status");
  list.replaceChildren();
  section.hidden = false;
  status.textContent = "Finding similar tracks…";
  try {
    const answer = await request(`v1/tracks/${encodeURIComponent(track.id)}/similar?n=5`);
    if (state.selected !== track) return; // another track was chosen meanwhile
    status.textContent = answer.tracks.length
      ? `The ${answer.tracks.length} most similar (embeddings, valence and arousal):`
      : "No other track to compare with.";
    list.replaceChildren(...answer.tracks.map((hit) => {
      const li = h("li", { attrs: { "data-track-id": hit.id } });
      const button = h("button", {
        cls: "link", text: trackName(hit), attrs: { type: "button", "aria-label": `Play ${trackName(hit)}` },
      });
      button.addEventListener("click", async () => select(await request(`v1/tracks/${encodeURIComponent(hit.id)}`)));
      li.append(button, " ", h("span", { cls: "distance", text: `distance ${hit.distance.toFixed(3)}` }));
      return li;
    }));
  } catch (err) {
    status.textContent = "";
    showError($("library-error"), err);
  }
}

/** Play a track, show its details, and its timeline path when the library has one. */
async function select(track) {
  state.selected = track;
  $("track-similar-section").hidden = true;
  $("track-similar-list").replaceChildren();
  highlight(track.id);
  play(track);
  details(track);
  const c = state.circumplex;
  c.layers.paths.replaceChildren();
  $("track-timechart-figure").hidden = true;
  try {
    const timeline = await request(`v1/tracks/${encodeURIComponent(track.id)}/timeline`);
    if (state.selected !== track) return; // another track was chosen meanwhile
    const live = timeline.windows.filter((w) => w.valence !== null && w.valence !== undefined);
    c.path(live.map((w) => [w.valence, w.arousal]), { testid: "library-path", label: `${trackName(track)} over time` });
    $("track-timechart-figure").hidden = false; // shown first: the chart takes its width
    drawTimeChart($("track-timechart"), timeline);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) showError($("library-error"), err);
  }
}

function details(track) {
  const card = $("track-details");
  card.dataset.trackId = track.id;
  $("track-title").textContent = trackName(track);
  $("track-subtitle").textContent = [track.artist, track.album].filter(Boolean).join(" · ");
  showQuadrant($("track-quadrant"), track.quadrant);
  showProbabilities($("track-probabilities"), track.probabilities);
  showFlags($("track-flags"), track.flags);
  const facts = [
    ["Valence", signed(track.valence)], ["Arousal", signed(track.arousal)],
    ["Length", clock(track.duration_s)],
    ["Tempo", track.tempo_bpm ? `${Math.round(track.tempo_bpm)} BPM` : "–"],
    ["Loudness", track.loudness_db !== null && track.loudness_db !== undefined ? `${track.loudness_db.toFixed(1)} dBFS` : "–"],
    ["Opening → closing", track.opening && track.closing
      ? `(${signed(track.opening.valence)}, ${signed(track.opening.arousal)}) → (${signed(track.closing.valence)}, ${signed(track.closing.arousal)})`
      : "–"],
    ["File", track.path], ["Track id", String(track.id)],
  ];
  const dl = $("track-facts");
  dl.replaceChildren();
  for (const [k, v] of facts) {
    const div = h("div");
    div.append(h("dt", { text: k }), h("dd", { text: v }));
    dl.append(div);
  }
  card.hidden = false;
  // the card is below the table and the circumplex: bring it into view, or a click seems to do nothing
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  card.scrollIntoView({ block: "start", behavior: smooth ? "smooth" : "auto" });
}
