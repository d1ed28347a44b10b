// The one audio player of the page (a bar at the bottom), fed from the service's file route.

import { ensureSession } from "./api.js";
import { trackName } from "./render.js";

/** Play a library track from GET v1/tracks/{id}/audio (with a token: after the session cookie is set). */
export function play(track, { autoplay = true } = {}) {
  const bar = document.getElementById("player-bar");
  const audio = document.getElementById("player");
  const src = `v1/tracks/${encodeURIComponent(track.id)}/audio`;
  const load = () => {
    if (audio.getAttribute("src") !== src) {
      audio.src = src;
      audio.dataset.trackId = track.id;
    }
    if (autoplay) {
      // browsers may refuse to autoplay without a user gesture: the controls are there anyway
      audio.play().catch(() => {});
    }
  };
  const who = track.artist ? ` — ${track.artist}` : "";
  document.getElementById("now-playing").textContent = `Now playing: ${trackName(track)}${who}`;
  bar.hidden = false;
  const session = ensureSession();
  if (session) session.catch(() => {}).finally(load);
  else load();
}
