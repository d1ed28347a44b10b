// The Analyse view: upload a file (drag and drop or the file input), show the result card,
// the circumplex with the track's timeline path and valence / arousal over time.

import { uploadForAnalysis } from "./api.js";
import { Circumplex, QUADRANTS, drawTimeChart } from "./circumplex.js";
import {
  clearError, clock, showError, showFlags, showProbabilities, showQuadrant, signed,
} from "./render.js";

const $ = (id) => document.getElementById(id);

export function initAnalyse() {
  const input = $("file-input");
  const zone = $("dropzone");
  const circumplex = new Circumplex($("analyse-circumplex"));
  let busy = false;

  async function analyse(file) {
    if (busy) return;
    busy = true;
    const hadFocus = document.activeElement === input;
    input.disabled = true;
    try {
      await run(file, circumplex);
    } finally {
      busy = false;
      input.disabled = false;
      input.value = ""; // choosing the same file again analyses it again
      if (hadFocus) input.focus(); // disabling it dropped the keyboard user's place
    }
  }

  input.addEventListener("change", () => {
    if (input.files && input.files.length) analyse(input.files[0]);
  });
  zone.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "copy";
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("dragging");
    const files = ev.dataTransfer && ev.dataTransfer.files;
    if (!files || files.length === 0) return;
    analyse(files[0]);
    if (files.length > 1) $("analyse-status").textContent += ` (${files.length - 1} more files ignored: one at a time)`;
  });
  // a file dropped next to the zone would make the browser open it and leave the page
  window.addEventListener("dragover", (ev) => ev.preventDefault());
  window.addEventListener("drop", (ev) => ev.preventDefault());
}

/** One upload and its result, from the progress bar to the charts. */
async function run(file, circumplex) {
  const status = $("analyse-status");
  const error = $("analyse-error");
  const row = $("upload-row");
  const bar = $("upload-progress");
  const label = $("upload-label");
  const percent = $("upload-percent");
  clearError(error);
  $("result-card").dataset.state = "busy";
  row.hidden = false;
  bar.value = 0;
  label.textContent = `Uploading ${file.name}`;
  percent.textContent = "0 %";
  status.textContent = `Uploading ${file.name} (${(file.size / 1e6).toFixed(1)} MB)…`;
  const started = performance.now();
  let ticker = null;
  try {
    const result = await uploadForAnalysis(file, {
      onProgress: (f) => {
        bar.value = Math.round(f * 100);
        percent.textContent = `${Math.round(f * 100)} %`;
      },
      onUploaded: () => {
        label.textContent = `Analysing ${file.name}`;
        const tick = () => {
          status.textContent = `Uploaded; analysing… ${Math.round((performance.now() - started) / 1000)} s`;
        };
        tick();
        ticker = setInterval(tick, 1000);
      },
    });
    showResult(result, circumplex);
    label.textContent = `Done: ${file.name}`;
    status.textContent = `Analysed ${result.name} in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
  } catch (err) {
    row.hidden = true;
    status.textContent = "";
    $("result-card").dataset.state = "error";
    showError(error, err);
  } finally {
    if (ticker) clearInterval(ticker);
  }
}

/** Fill the result card and draw both charts from an analysis (schema mer.analysis/1). */
export function showResult(result, circumplex) {
  const p = result.prediction;
  const t = result.timeline;
  const card = $("result-card");
  $("result-name").textContent = result.name;
  showQuadrant($("result-quadrant"), p.quadrant);
  const words = p.quadrant ? `${p.quadrant} ${QUADRANTS[p.quadrant].words}` : "no quadrant (silent)";
  $("result-summary").textContent =
    `${result.name}: ${words}; valence ${signed(p.valence)}, arousal ${signed(p.arousal)}` +
    (p.flags && p.flags.length ? `; flags: ${p.flags.join(", ")}.` : ".");
  showProbabilities($("result-probabilities"), p.probabilities);
  for (const key of ["valence", "arousal"]) {
    const dd = $(`result-${key}`);
    dd.textContent = signed(p[key]);
    dd.dataset.value = p[key] ?? "";
  }
  showFlags($("result-flags"), p.flags);
  $("result-sections").textContent = sectionsText(t);
  card.hidden = false;
  card.dataset.state = "done";

  circumplex.clear();
  const live = (t.windows || []).filter((w) => w.valence !== null && w.valence !== undefined);
  circumplex.path(live.map((w) => [w.valence, w.arousal]), {
    testid: "analyse-path", label: `path over ${live.length} windows of ${t.settings.window_s} s`,
  });
  live.forEach((w, i) => circumplex.point(w.valence, w.arousal, {
    r: 3, cls: "window-point", quadrant: w.quadrant,
    label: `${clock(w.start_s)}–${clock(w.end_s)}: ${w.quadrant}, valence ${signed(w.valence)}, arousal ${signed(w.arousal)}`,
    attrs: { "data-index": i },
  }));
  if (p.valence !== null && p.valence !== undefined) {
    circumplex.point(p.valence, p.arousal, {
      r: 9, cls: "track-point", quadrant: p.quadrant,
      label: `whole track: ${words}, valence ${signed(p.valence)}, arousal ${signed(p.arousal)}`,
      attrs: { "data-testid": "analyse-track-point" },
    });
  }
  $("analyse-charts").hidden = false;
  drawTimeChart($("analyse-timechart"), t);
}

/** "0–30 s Q1 happy / excited; 30 s–1:05 Q4 calm / relaxed" */
function sectionsText(t) {
  const secs = t.sections || [];
  if (!secs.length) return "No sections: every window is silent.";
  const parts = secs.map((s) => `${clock(s.start_s)}–${clock(s.end_s)}: ${s.quadrant} ${QUADRANTS[s.quadrant]?.words ?? ""}`);
  const n = (t.windows || []).length;
  return `${n} windows of ${t.settings.window_s} s every ${t.settings.hop_s} s; ` +
    `${secs.length} section${secs.length === 1 ? "" : "s"}: ${parts.join("; ")}.`;
}
