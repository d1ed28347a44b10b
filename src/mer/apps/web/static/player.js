// The one audio player of the page (a bar at the bottom), fed from the service's file route.
// It plays one track, or a queue of them in order (a playlist's "Play all").

import { ensureSession } from "./api.js";
import { trackName } from "./render.js";

const queue = { tracks: [], at: 0 };

/** Play a library track from GET v1/tracks/{id}/audio (and forget any queue); with a token, after the session cookie is set. */
export function play(track, { autoplay = true } = {}) {
  queue.tracks = [];
  start(track, "", autoplay);
}

/** Play `tracks` one after another, from the first; the next starts when one ends. */
export function playAll(tracks) {
  if (!tracks.length) return;
  queue.tracks = tracks;
  queue.at = 0;
  start(tracks[0], position(), true);
}

const position = () => ` (${queue.at + 1} of ${queue.tracks.length})`;

function start(track, where, autoplay) {
  const bar = document.getElementById("player-bar");
  const audio = document.getElementById("player");
  if (!audio.dataset.queued) {
    audio.dataset.queued = "1";
    audio.addEventListener("ended", next);
  }
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
  document.getElementById("now-playing").textContent = `Now playing${where}: ${trackName(track)}${who}`;
  bar.hidden = false;
  const session = ensureSession();
  if (session) session.catch(() => {}).finally(load);
  else load();
}

function next() {
  if (queue.at + 1 >= queue.tracks.length) return;
  queue.at += 1;
  start(queue.tracks[queue.at], position(), true);
}
