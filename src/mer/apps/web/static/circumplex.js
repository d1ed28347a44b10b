// Russell's circumplex and the valence / arousal-over-time chart, drawn as plain SVG.
//
// Valence is x (unpleasant -1 ... +1 pleasant), arousal is y (calm -1 ... +1 energetic, up).
// Every chart is a viewBox-scaled SVG: it keeps its proportions at any width, so the same
// drawing serves a phone and a desktop screen.

export const SVG_NS = "http://www.w3.org/2000/svg";

/** The four quadrants: words, the signs of valence / arousal, and the colour of each. */
export const QUADRANTS = {
  Q1: { words: "happy / excited", short: "happy", signs: "+valence, +arousal", colour: "#f2c12e", ink: "#111" },
  Q2: { words: "tense / angry", short: "tense", signs: "−valence, +arousal", colour: "#d64541", ink: "#111" },
  Q3: { words: "sad / depressed", short: "sad", signs: "−valence, −arousal", colour: "#3a6ea5", ink: "#fff" },
  Q4: { words: "calm / relaxed", short: "calm", signs: "+valence, −arousal", colour: "#4caf50", ink: "#111" },
};

/** Create an SVG element with attributes, appended to `parent` when given. */
export function svgEl(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  if (parent) parent.appendChild(node);
  return node;
}

/** A `<title>` child: the tooltip, and the accessible name of the element. */
function titled(node, text) {
  svgEl("title", {}, node).textContent = text;
  return node;
}

const fmt = (x) => (x >= 0 ? "+" : "") + x.toFixed(2);

// ---------------------------------------------------------------------------
// The circumplex
// ---------------------------------------------------------------------------

const SIZE = 400;
const PAD = 40;
const R = (SIZE - 2 * PAD) / 2; // one unit of valence / arousal, in SVG pixels
const MID = SIZE / 2;

export class Circumplex {
  /**
   * @param {SVGSVGElement} svg the (empty) element to draw into
   * @param {{onPick?: (v: number, a: number) => void}} options onPick: called with the
   *   valence / arousal of a click on the plane (each clamped to [-1, 1])
   */
  constructor(svg, { onPick } = {}) {
    this.svg = svg;
    this.prefix = svg.id || "circumplex";
    svg.setAttribute("viewBox", `0 0 ${SIZE} ${SIZE}`);
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.replaceChildren();
    this.#defs();
    this.#background();
    this.layers = {
      paths: svgEl("g", { class: "layer-paths" }, svg),
      points: svgEl("g", { class: "layer-points" }, svg),
      marks: svgEl("g", { class: "layer-marks" }, svg),
    };
    this.#axisLabels();
    if (onPick) {
      svg.addEventListener("click", (ev) => {
        const [v, a] = this.eventToVA(ev);
        onPick(v, a);
      });
    }
  }

  /** Valence / arousal to SVG coordinates. */
  static xy(v, a) {
    return [MID + v * R, MID - a * R];
  }

  /** The valence / arousal under a mouse event, clamped to [-1, 1]. */
  eventToVA(ev) {
    const pt = this.svg.createSVGPoint();
    pt.x = ev.clientX;
    pt.y = ev.clientY;
    const p = pt.matrixTransform(this.svg.getScreenCTM().inverse());
    const clamp = (x) => Math.max(-1, Math.min(1, x));
    return [clamp((p.x - MID) / R), clamp((MID - p.y) / R)];
  }

  #defs() {
    const defs = svgEl("defs", {}, this.svg);
    const marker = svgEl("marker", {
      id: `${this.prefix}-arrow`, viewBox: "0 0 10 10", refX: "8", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse", markerUnits: "strokeWidth",
    }, defs);
    svgEl("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" }, marker);
  }

  #background() {
    const g = svgEl("g", { class: "background", "aria-hidden": "true" }, this.svg);
    const quads = [["Q1", MID, PAD], ["Q2", PAD, PAD], ["Q3", PAD, MID], ["Q4", MID, MID]];
    for (const [q, x, y] of quads) {
      svgEl("rect", { x, y, width: R, height: R, fill: QUADRANTS[q].colour, class: "quadrant-tint" }, g);
    }
    svgEl("rect", { x: PAD, y: PAD, width: 2 * R, height: 2 * R, class: "frame" }, g);
    svgEl("circle", { cx: MID, cy: MID, r: R, class: "unit-circle" }, g);
    svgEl("line", { x1: PAD, y1: MID, x2: SIZE - PAD, y2: MID, class: "axis" }, g);
    svgEl("line", { x1: MID, y1: PAD, x2: MID, y2: SIZE - PAD, class: "axis" }, g);
    // quadrant names outside the plane (its corners are where the most extreme tracks sit)
    const labels = [
      ["Q1", SIZE - PAD, PAD - 10, "end"], ["Q2", PAD, PAD - 10, "start"],
      ["Q3", PAD, SIZE - PAD + 22, "start"], ["Q4", SIZE - PAD, SIZE - PAD + 22, "end"],
    ];
    for (const [q, x, y, anchor] of labels) {
      const t = svgEl("text", { x, y, "text-anchor": anchor, class: "quadrant-label" }, g);
      svgEl("tspan", { class: "q-code" }, t).textContent = `${q} `;
      svgEl("tspan", {}, t).textContent = QUADRANTS[q].words;
    }
  }

  /** The axes' labels, above every layer (with a halo) so that no point or path hides them. */
  #axisLabels() {
    const g = svgEl("g", { class: "axis-labels", "aria-hidden": "true" }, this.svg);
    const axis = (x, y, text, anchor) =>
      (svgEl("text", { x, y, "text-anchor": anchor, class: "axis-label" }, g).textContent = text);
    axis(SIZE - PAD - 4, MID - 6, "valence +1", "end");
    axis(PAD + 4, MID - 6, "−1", "start");
    axis(MID + 5, PAD + 14, "arousal +1", "start");
    axis(MID + 5, SIZE - PAD - 6, "−1", "start");
  }

  /** Remove everything drawn on top of the background. */
  clear() {
    for (const g of Object.values(this.layers)) g.replaceChildren();
  }

  /**
   * A dot at (v, a).
   * @returns {SVGCircleElement}
   */
  point(v, a, { r = 5, cls = "", label = "", quadrant = null, layer = "points", attrs = {} } = {}) {
    const [x, y] = Circumplex.xy(v, a);
    const c = svgEl("circle", { cx: x.toFixed(2), cy: y.toFixed(2), r, class: `point ${cls}`.trim(), ...attrs },
      this.layers[layer]);
    // a style, not a fill attribute: the stylesheet's default fill would win over an attribute
    if (quadrant && QUADRANTS[quadrant]) c.style.fill = QUADRANTS[quadrant].colour;
    if (quadrant) c.dataset.quadrant = quadrant;
    if (label) titled(c, label);
    return c;
  }

  /** A text label next to (v, a). */
  mark(v, a, text, { cls = "" } = {}) {
    const [x, y] = Circumplex.xy(v, a);
    const t = svgEl("text", { x: x + 8, y: y - 8, class: `mark ${cls}`.trim() }, this.layers.marks);
    t.textContent = text;
    return t;
  }

  /**
   * A path through [[v, a], ...] in order: a polyline with one vertex per point, a ring at
   * the start, an arrow at the end and arrowheads along the way showing the direction.
   * @returns {SVGPolylineElement}
   */
  path(points, { cls = "", testid = null, label = "", arrows = 6 } = {}) {
    const g = svgEl("g", { class: `path-group ${cls}`.trim() }, this.layers.paths);
    const xy = points.map(([v, a]) => Circumplex.xy(v, a));
    const line = svgEl("polyline", {
      points: xy.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(" "),
      class: "path-line", "data-testid": testid, "data-count": points.length,
      "marker-end": points.length > 1 ? `url(#${this.prefix}-arrow)` : null,
    }, g);
    if (label) titled(line, label);
    // arrowheads at the middle of some segments (at most `arrows` of them, evenly spread)
    const every = Math.max(1, Math.ceil((xy.length - 1) / arrows));
    for (let i = 0; i + 1 < xy.length - 1; i += every) {
      const [x0, y0] = xy[i];
      const [x1, y1] = xy[i + 1];
      if (Math.hypot(x1 - x0, y1 - y0) < 6) continue; // too short to show a direction
      const angle = (Math.atan2(y1 - y0, x1 - x0) * 180) / Math.PI;
      svgEl("path", {
        d: "M-5,-4 L4,0 L-5,4 z", class: "arrow-head",
        transform: `translate(${((x0 + x1) / 2).toFixed(2)},${((y0 + y1) / 2).toFixed(2)}) rotate(${angle.toFixed(1)})`,
      }, g);
    }
    if (xy.length) svgEl("circle", { cx: xy[0][0], cy: xy[0][1], r: 6, class: "path-start" }, g);
    return line;
  }
}

// ---------------------------------------------------------------------------
// Valence / arousal over time
// ---------------------------------------------------------------------------

const M = { left: 44, right: 14, top: 14, bottom: 30 };

/** The timeline each chart shows, to redraw it at its new width when the window is resized. */
const charts = new Map();
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const [svg, timeline] of charts) {
      if (svg.isConnected && svg.clientWidth) drawTimeChart(svg, timeline);
    }
  }, 150);
});

/** A round tick step for a span of `span` seconds: at most `most` steps. */
function tickStep(span, most) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  return steps.find((s) => span / s <= most) ?? 3600;
}

function clock(seconds) {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * Draw a timeline (schema mer.timeline/1) into `svg`: sections shaded by quadrant, valence
 * (solid) and arousal (dashed) at the centre of each window, silent windows left as gaps.
 * @returns {{valence: number, arousal: number}} how many points each line has
 */
export function drawTimeChart(svg, timeline) {
  charts.set(svg, timeline);
  // as wide as drawn on screen (so text keeps its size on a phone), 640 while hidden
  const TW = Math.round(Math.min(960, Math.max(300, svg.clientWidth || 640)));
  const TH = TW < 480 ? 220 : 260;
  svg.setAttribute("viewBox", `0 0 ${TW} ${TH}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  svg.replaceChildren();
  const duration = Math.max(timeline.duration_s || 0, 1e-6);
  const pw = TW - M.left - M.right;
  const ph = TH - M.top - M.bottom;
  const X = (t) => M.left + (t / duration) * pw;
  const Y = (y) => M.top + ((1 - y) / 2) * ph;

  const bg = svgEl("g", { class: "sections" }, svg);
  for (const s of timeline.sections || []) {
    const q = QUADRANTS[s.quadrant];
    const r = svgEl("rect", {
      x: X(s.start_s).toFixed(2), y: M.top, width: Math.max(0.5, X(s.end_s) - X(s.start_s)).toFixed(2), height: ph,
      fill: q ? q.colour : "#ccc", class: "section", "data-quadrant": s.quadrant,
    }, bg);
    titled(r, `${clock(s.start_s)}–${clock(s.end_s)}: ${s.quadrant} ${q ? q.words : ""}`);
  }

  const axes = svgEl("g", { class: "axes", "aria-hidden": "true" }, svg);
  for (const y of [-1, -0.5, 0, 0.5, 1]) {
    svgEl("line", { x1: M.left, x2: TW - M.right, y1: Y(y), y2: Y(y), class: y === 0 ? "axis" : "grid" }, axes);
    svgEl("text", { x: M.left - 6, y: Y(y) + 4, "text-anchor": "end", class: "tick" }, axes).textContent =
      y === 0 ? "0" : fmt(y).replace(/0+$/, "").replace(/\.$/, "");
  }
  const step = tickStep(duration, TW < 480 ? 4 : 7);
  for (let t = 0; t <= duration + 1e-9; t += step) {
    svgEl("line", { x1: X(t), x2: X(t), y1: TH - M.bottom, y2: TH - M.bottom + 5, class: "axis" }, axes);
    svgEl("text", { x: X(t), y: TH - M.bottom + 18, "text-anchor": "middle", class: "tick" }, axes).textContent = clock(t);
  }

  const counts = {};
  for (const key of ["valence", "arousal"]) {
    const g = svgEl("g", { class: `series series-${key}` }, svg);
    const line = svgEl("path", { class: `line ${key}`, "data-testid": `${svg.id}-${key}` }, g); // under the dots
    let d = "";
    let pen = false;
    let n = 0;
    for (const w of timeline.windows || []) {
      const value = w[key];
      if (value === null || value === undefined) {
        pen = false; // a silent window: a gap in the line
        continue;
      }
      const x = X((w.start_s + w.end_s) / 2);
      const y = Y(value);
      d += `${pen ? "L" : "M"}${x.toFixed(2)},${y.toFixed(2)} `;
      pen = true;
      n += 1;
      const c = svgEl("circle", { cx: x.toFixed(2), cy: y.toFixed(2), r: 3.2, class: `dot ${key}` }, g);
      titled(c, `${clock(w.start_s)}–${clock(w.end_s)}: ${key} ${fmt(value)}`);
    }
    line.setAttribute("d", d.trim());
    counts[key] = n;
  }
  return counts;
}
