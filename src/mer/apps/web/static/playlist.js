// The Playlist view: from / to mood (a word, "valence,arousal", a track id, or a click on
// the circumplex), length and easing -> POST v1/playlists; the path drawn on the
// circumplex, the tracks listed, the M3U8 offered as a download.

import { ApiError, request } from "./api.js";
import { Circumplex, QUADRANTS } from "./circumplex.js";
import { play, playAll } from "./player.js";
import { badge, clearError, h, showError, signed, trackName } from "./render.js";

const $ = (id) => document.getElementById(id);

/** Mood words and their quadrant (the words of mer.core.labels.MOOD_WORDS), for the preview. */
export const MOOD_WORDS = {
  Q1: ["happy", "happiness", "excited", "excitement", "joy", "joyful", "cheerful", "energetic", "elated"],
  Q2: ["angry", "anger", "tense", "tension", "fear", "fearful", "anxious", "aggressive", "agitated", "scary"],
  Q3: ["sad", "sadness", "depressed", "depression", "melancholic", "melancholy", "gloomy", "bored", "tired"],
  Q4: ["calm", "relaxed", "relaxing", "peaceful", "serene", "tender", "content", "contented", "soothing"],
};
const CENTRES = { Q1: [0.5, 0.5], Q2: [-0.5, 0.5], Q3: [-0.5, -0.5], Q4: [0.5, -0.5] };
const POINT = /^\s*([-+]?\d*\.?\d+)\s*,\s*([-+]?\d*\.?\d+)\s*$/;

const state = { circumplex: null, blobUrl: null, built: false, tracks: [] };

export function initPlaylist() {
  state.circumplex = new Circumplex($("playlist-circumplex"), { onPick: pick });
  for (const id of ["pl-from", "pl-to"]) $(id).addEventListener("input", preview);
  $("playlist-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    build();
  });
  $("playlist-play-all").addEventListener("click", () => playAll(state.tracks));
  preview();
}

export function showPlaylist() {
  if (!state.built) preview();
}

/** A click on the circumplex: set the field chosen by the "sets" radio buttons. */
function pick(v, a) {
  const which = document.querySelector("input[name=pick]:checked").value;
  $(`pl-${which}`).value = `${v.toFixed(2)},${a.toFixed(2)}`;
  if (which === "from") $("pick-to").checked = true; // the natural next click
  state.built = false;
  preview();
}

/** The API's form of a from / to field: a track id (int), "v,a", or a mood word. */
function endpoint(text) {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = POINT.exec(t);
  if (m) return `${Number(m[1])},${Number(m[2])}`;
  return t.toLowerCase();
}

/** Where a field points on the plane, for the preview (null for a track id or an unknown word). */
function whereIs(text) {
  const m = POINT.exec(text);
  if (m) return [Number(m[1]), Number(m[2])];
  const word = text.trim().toLowerCase();
  for (const [q, words] of Object.entries(MOOD_WORDS)) {
    if (word === q.toLowerCase() || words.includes(word)) return CENTRES[q];
  }
  return null;
}

/** From / to markers on the circumplex before a playlist is built. */
function preview() {
  const c = state.circumplex;
  c.clear();
  for (const [key, label] of [["from", "from"], ["to", "to"]]) {
    const at = whereIs($(`pl-${key}`).value);
    if (!at) continue;
    c.point(at[0], at[1], { r: 8, cls: `endpoint endpoint-${key}`, label: `${label}: ${$(`pl-${key}`).value}`, layer: "marks" });
    c.mark(at[0], at[1], label, { cls: `mark-${key}` });
  }
}

function body() {
  const length = Number($("pl-length").value);
  if (!Number.isInteger(length) || length < 1) throw new ApiError(0, "Length: a whole number of tracks, 1 or more");
  const maxStep = $("pl-max-step").value.trim();
  const perArtist = $("pl-per-artist").value.trim();
  return {
    from: endpoint($("pl-from").value),
    to: endpoint($("pl-to").value),
    length,
    easing: $("pl-easing").value,
    max_step: maxStep ? Number(maxStep) : null,
    per_artist: perArtist ? Number(perArtist) : null,
  };
}

async function build() {
  const status = $("playlist-status");
  const error = $("playlist-error");
  clearError(error);
  let params;
  try {
    params = body();
  } catch (err) {
    showError(error, err);
    return;
  }
  status.textContent = "Building the playlist…";
  $("pl-build").disabled = true;
  try {
    const playlist = await request("v1/playlists", { method: "POST", json: params });
    state.built = true;
    render(playlist);
    status.textContent = `Playlist of ${playlist.tracks.length} track${playlist.tracks.length === 1 ? "" : "s"} ` +
      `from ${params.from} to ${params.to} (${params.easing}).`;
    await offerM3u8(params);
  } catch (err) {
    status.textContent = "";
    showError(error, err);
  } finally {
    $("pl-build").disabled = false;
  }
}

/** The same request as M3U8 text, offered as a file to download. */
async function offerM3u8(params) {
  const link = $("playlist-m3u8");
  link.setAttribute("aria-disabled", "true");
  const text = await request("v1/playlists?format=m3u8", { method: "POST", json: params, as: "text" });
  if (state.blobUrl) URL.revokeObjectURL(state.blobUrl);
  state.blobUrl = URL.createObjectURL(new Blob([text], { type: "audio/x-mpegurl" }));
  link.href = state.blobUrl;
  link.removeAttribute("aria-disabled");
}

/** [valence, arousal] of a point given as {valence, arousal} or as a pair. */
const va = (p) => (Array.isArray(p) ? [Number(p[0]), Number(p[1])] : [Number(p.valence), Number(p.arousal)]);

function render(playlist) {
  const c = state.circumplex;
  c.clear();
  const waypoints = (playlist.waypoints || []).map(va);
  if (waypoints.length) {
    c.path(waypoints, { cls: "planned", testid: "playlist-waypoints", label: "the planned path" });
  }
  const ends = [["from", playlist.start ?? playlist.waypoints?.[0]], ["to", playlist.end ?? playlist.waypoints?.at(-1)]];
  for (const [label, at] of ends) {
    if (!at) continue;
    const [v, a] = va(at);
    c.point(v, a, { r: 8, cls: `endpoint endpoint-${label}`, label: `${label}: ${signed(v)}, ${signed(a)}`, layer: "marks" });
    c.mark(v, a, label, { cls: `mark-${label}` });
  }
  const placed = playlist.tracks.filter((t) => t.valence !== null && t.valence !== undefined);
  c.path(placed.map((t) => [t.valence, t.arousal]), { cls: "tracks", testid: "playlist-path", label: "the tracks in order" });
  placed.forEach((t, i) => {
    c.point(t.valence, t.arousal, {
      r: 7, cls: "playlist-point", quadrant: t.quadrant,
      label: `${i + 1}. ${trackName(t)}: valence ${signed(t.valence)}, arousal ${signed(t.arousal)}`,
      attrs: { "data-track-id": t.id },
    });
    c.mark(t.valence, t.arousal, String(i + 1), { cls: "mark-number" });
  });
  const list = $("playlist-tracks");
  list.replaceChildren(...playlist.tracks.map(item));
  state.tracks = playlist.tracks;
  $("playlist-play-all").disabled = playlist.tracks.length === 0;
  report(playlist.report || {});
  $("playlist-result").hidden = false;
}

function item(track) {
  const li = h("li", { attrs: { "data-track-id": track.id } });
  const button = h("button", {
    cls: "link", text: trackName(track), attrs: { type: "button", "aria-label": `Play ${trackName(track)}` },
  });
  button.addEventListener("click", () => play(track));
  li.append(badge(track.quadrant), " ", button);
  if (track.artist) li.append(h("span", { cls: "artist", text: ` — ${track.artist}` }));
  li.append(h("span", {
    cls: "va-inline",
    text: ` valence ${signed(track.valence)}, arousal ${signed(track.arousal)}` +
      (track.quadrant ? ` (${QUADRANTS[track.quadrant].short})` : ""),
  }));
  return li;
}

/** A report value in a few characters: numbers rounded, lists joined; null for nested objects. */
function short(value) {
  const num = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(3));
  if (typeof value === "number") return num(value);
  if (value === null || value === undefined) return "–";
  if (Array.isArray(value)) {
    if (value.length === 0) return "none";
    if (value.every((x) => typeof x === "number")) return value.map(num).join(", ");
    if (value.every((x) => typeof x === "string")) return value.join("; ");
    return null;
  }
  return typeof value === "object" ? null : String(value);
}

/** The report's entries a listener cares about, in this order, with their labels (every entry, by its
 * key, if none of these is there). Distances are on the valence / arousal plane, each axis in [-1, 1]. */
const REPORT_LABELS = {
  requested_length: "Tracks asked for",
  length: "Tracks found",
  start_distance: "First track to the start mood",
  end_distance: "Last track to the end mood",
  mean_waypoint_distance: "Tracks to the planned path (mean)",
  mean_step: "Step between tracks (mean)",
  largest_step: "Largest step between tracks",
  mean_join: "Closing → next opening (mean)",
  largest_join: "Closing → next opening (largest)",
  max_step: "Step limit",
  n_over_max_step: "Steps over the limit",
  notes: "Notes",
};
const REPORT_KEYS = Object.keys(REPORT_LABELS);

/** The playlist's report: one line per entry (numbers rounded, lists joined). */
function report(entries) {
  const dl = $("playlist-report");
  dl.replaceChildren();
  const keys = REPORT_KEYS.some((k) => k in entries) ? REPORT_KEYS.filter((k) => k in entries) : Object.keys(entries);
  for (const key of keys) {
    const value = entries[key];
    const text = short(value);
    if (text === null) continue;
    const div = h("div");
    div.append(h("dt", { text: REPORT_LABELS[key] ?? key.replaceAll("_", " ") }), h("dd", { text }));
    dl.append(div);
  }
}
