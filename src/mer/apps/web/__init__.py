"""The web page of ``mer serve``: plain HTML, CSS and ES modules served from the package.

No build step, no CDN, no third-party script: the page works offline, from the files in
:data:`STATIC_DIR` (``index.html``, ``style.css``, ``app.js`` and the modules it imports).
The HTTP service (:mod:`mer.apps.service`) serves ``index.html`` at ``/`` and the folder at
``/static/``; the page talks only to the service's versioned JSON API (``/v1/...``) with
relative URLs, so it also works behind a path prefix.

Three views, chosen by the URL's fragment (``#analyse``, ``#library``, ``#playlist``):

* **Analyse**: drop a file (or choose it with the file input) to upload it to
  ``POST /v1/analyze`` with a progress bar; a result card (quadrant in words, the four
  probabilities, valence / arousal, reliability flags explained), the circumplex with the
  track's point and its timeline path, and valence / arousal over time coloured by section.
* **Library**: the tracks of ``GET /v1/tracks`` in a table with filters (quadrant,
  valence / arousal ranges, path glob) and as a scatter on the circumplex; a row or a point
  plays the file from ``GET /v1/tracks/{id}/audio`` and shows its details and timeline.
* **Playlist**: from / to mood (a word, ``valence,arousal``, a track id, or a click on the
  circumplex), length and easing to ``POST /v1/playlists``; the path drawn on the
  circumplex, the tracks listed, and the M3U8 offered as a download.

Element ids and ``data-testid`` attributes are stable: ``tests/test_web.py`` drives the page
in a real headless Chromium.
"""

from __future__ import annotations

from pathlib import Path

#: The folder of the page's files (``index.html`` is the page; the rest is served at ``/static/``).
STATIC_DIR = Path(__file__).parent / "static"

#: The page itself.
INDEX_HTML = STATIC_DIR / "index.html"

__all__ = ["INDEX_HTML", "STATIC_DIR"]
