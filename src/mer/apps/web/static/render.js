// Small pieces of the page every view shares: numbers, quadrant words, probability bars,
// reliability flags, error boxes.

import { QUADRANTS } from "./circumplex.js";

export { QUADRANTS };

/** What each reliability flag means and what to do (the words of mer.audio.quality.FLAG_MEANINGS). */
export const FLAG_MEANINGS = {
  silent: "no signal above -60 dBFS: no quadrant given; check the file or the recording level",
  too_short: "under 6 s (the model learnt from 30-s clips): use a longer excerpt, 10 s or more",
  mostly_silent: "over half of it is silent: trim the silence and predict again",
  clipped: "over 1 % of samples at full scale: distortion can pass for tension; use a clean source",
};

/** "+0.63" / "-0.20": valence and arousal with their sign. */
export function signed(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  return (x >= 0 ? "+" : "") + Number(x).toFixed(digits);
}

/** "1:05" or "42 s". */
export function clock(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Create an HTML element with a class and text. */
export function h(tag, { cls = "", text = "", attrs = {} } = {}) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  return node;
}

/** A coloured "Q1" badge. */
export function badge(quadrant) {
  const q = QUADRANTS[quadrant];
  const b = h("span", { cls: "q-badge", text: quadrant || "–" });
  if (q) {
    b.style.background = q.colour;
    b.style.color = q.ink;
  }
  return b;
}

/** Fill `node` with the quadrant in words: "Q1 happy / excited (+valence, +arousal)". */
export function showQuadrant(node, quadrant) {
  node.replaceChildren();
  node.dataset.quadrant = quadrant || "";
  if (!quadrant) {
    node.append(h("span", { text: "No quadrant: there is no music to judge (silent)." }));
    return;
  }
  const q = QUADRANTS[quadrant];
  node.append(badge(quadrant), " ", h("span", { cls: "q-words", text: q ? q.words : quadrant }));
  if (q) node.append(" ", h("span", { cls: "q-signs", text: `(${q.signs})` }));
}

/** One row per quadrant: its words, a bar (decoration) and the probability as a number. */
export function showProbabilities(list, probabilities) {
  list.replaceChildren();
  if (!probabilities) {
    list.append(h("li", { cls: "muted", text: "No probabilities (no quadrant given)." }));
    return;
  }
  for (const [quadrant, q] of Object.entries(QUADRANTS)) {
    const p = Number(probabilities[quadrant] ?? 0);
    const li = h("li", { attrs: { "data-quadrant": quadrant } });
    const label = h("span", { cls: "bar-label" });
    label.append(badge(quadrant), " ", q.short);
    const track = h("span", { cls: "bar", attrs: { "aria-hidden": "true" } });
    const fill = h("span", { cls: "bar-fill" });
    fill.style.width = `${(Math.max(0, Math.min(1, p)) * 100).toFixed(1)}%`;
    fill.style.background = q.colour;
    track.append(fill);
    const value = h("span", { cls: "bar-value", text: p.toFixed(3), attrs: { "data-value": p } });
    li.append(label, track, value);
    list.append(li);
  }
}

/** The reliability flags, each with what it means; or a line saying there are none. */
export function showFlags(list, flags) {
  list.replaceChildren();
  if (!flags || flags.length === 0) {
    list.append(h("li", { cls: "flag-none", text: "No reliability flags: long enough, not silent, not clipped." }));
    return;
  }
  for (const flag of flags) {
    const li = h("li", { cls: "flag", attrs: { "data-flag": flag } });
    li.append(h("strong", { text: flag.replace("_", " ") }), ": ", FLAG_MEANINGS[flag] || "see mer's documentation");
    list.append(li);
  }
}

/** Show an error (an ApiError or any Error) in a role=alert box. */
export function showError(box, error) {
  box.textContent = typeof error.describe === "function" ? error.describe() : String(error.message || error);
  box.dataset.status = error.status ?? "";
  box.hidden = false;
}

export function clearError(box) {
  box.textContent = "";
  box.hidden = true;
}

/** A track's display name: its title tag, else its file name. */
export function trackName(track) {
  if (track.title) return track.title;
  const parts = String(track.path || "").split(/[\\/]/);
  return parts[parts.length - 1] || `track ${track.id}`;
}
