"""The beets plugin of mer: each item's mood on Russell's circumplex, as flexible attributes.

Enable it with ``plugins: mer`` in beets' config (installing mer puts this module in the
``beetsplug`` namespace package, where beets looks for plugins). ``beet mer [QUERY]``
analyses the matching items with mer's shipped model (or ``mer.model``) and stores:

==============  =====================================================================
``mer_quadrant``  ``Q1`` .. ``Q4`` (happy, tense, sad, calm)
``mood``          the quadrant's mood word (``happy``, ``tense``, ``sad``, ``calm``)
``mer_valence``   valence in [-1, 1] (a float: ``beet ls mer_valence:0.2..`` works)
``mer_arousal``   arousal in [-1, 1]
``mer_prob``      the top quadrant's probability
``mer_flags``     reliability flags, comma-separated (``silent``, ``too_short``, ...)
``mer_model``     the model's id (name@hash): an item analysed with it is not analysed again
==============  =====================================================================

``mood`` is also a media field (ID3 ``TMOO``, Vorbis ``MOOD``, MP4 ``----:com.apple.iTunes:MOOD``,
ASF ``WM/Mood``, as MusicBrainz Picard writes it), so beets' own write path (``beet write``,
``-w``, ``import.write``) puts it in the files. With ``auto: yes`` (the default) imported
items are analysed during ``beet import``. Unreadable files are logged, one line each,
and the run goes on. See docs/beets.md.
"""

from __future__ import annotations

import mediafile
from beets import ui
from beets.dbcore import types
from beets.plugins import BeetsPlugin

#: Quadrant -> the mood word stored in ``mood`` (the first word of each quadrant's name).
MOODS = {"Q1": "happy", "Q2": "tense", "Q3": "sad", "Q4": "calm"}

#: Items analysed per call into mer (their results are stored before the next batch starts).
BATCH = 16

MOOD_FIELD = mediafile.MediaField(
    mediafile.MP3StorageStyle("TMOO"),
    mediafile.MP4StorageStyle("----:com.apple.iTunes:MOOD"),
    mediafile.StorageStyle("MOOD"),
    mediafile.ASFStorageStyle("WM/Mood"),
)


class MerPlugin(BeetsPlugin):
    """``beet mer``: analyse items with mer; ``auto`` analyses imported items."""

    item_types = {"mer_valence": types.Float(3), "mer_arousal": types.Float(3), "mer_prob": types.Float(3),
                  "mer_quadrant": types.STRING, "mood": types.STRING, "mer_flags": types.STRING,
                  "mer_model": types.STRING}

    def __init__(self):
        super().__init__()
        self.config.add({"auto": True, "force": False, "model": "", "jobs": 1, "threads": 0})
        if "mood" not in set(mediafile.MediaFile.fields()):
            self.add_media_field("mood", MOOD_FIELD)
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]
        self._model = self._model_id = None

    def commands(self):
        cmd = ui.Subcommand("mer", help="analyse the mood of items with mer (quadrant, valence, arousal)")
        cmd.parser.add_option("-f", "--force", action="store_true", default=False,
                              help="analyse again items already analysed with this model")
        cmd.parser.add_option("-w", "--write", action="store_true", default=None, help="write the mood to files")
        cmd.parser.add_option("-W", "--nowrite", action="store_false", dest="write", help="do not write to files")
        cmd.func = lambda lib, opts, args: self.analyse(
            lib.items(args), force=opts.force or self.config["force"].get(bool), write=ui.should_write(opts.write))
        return [cmd]

    def imported(self, session, task):
        self.analyse(task.imported_items(), force=self.config["force"].get(bool), write=ui.should_write())

    def _id(self) -> str:
        """The model's id (name@hash of its file), read on first use."""
        if self._model_id is None:
            from mer.library.scan import model_id

            self._model_id = model_id(self.config["model"].as_str() or None)
        return self._model_id

    def _loaded(self):
        """The model, loaded on first use (mer's models and torch are imported only then)."""
        if self._model is None:
            from mer.workflows.predict import load_model

            self._model = load_model(self.config["model"].as_str() or None)
        return self._model

    def analyse(self, items, *, force: bool = False, write: bool = False) -> tuple[int, int, int]:
        """Analyse `items` (those not yet analysed with the model, or all with `force`); (done, skipped, failed)."""
        from mer.core.errors import MerError

        items = list(items)
        try:
            mid = self._id()
            todo = [it for it in items if force or it.get("mer_model") != mid]
            model = self._loaded() if todo else None
        except MerError as exc:
            raise ui.UserError(f"mer: {exc}") from None
        done = failed = 0
        for start in range(0, len(todo), BATCH):
            d, f = self._analyse_batch(model, mid, todo[start:start + BATCH], write)
            done, failed = done + d, failed + f
        self._log.info("analysed {}, already analysed with {}: {}, failed {}", done, mid, len(items) - len(todo),
                       failed)
        return done, len(items) - len(todo), failed

    def _analyse_batch(self, model, mid: str, items, write: bool) -> tuple[int, int]:
        from mer.core import parallel
        from mer.workflows.predict import predict_files

        threads = self.config["threads"].get(int) or None
        with parallel.limit_threads(threads) if threads else parallel.budget_limit():
            preds, failures = predict_files(model, [it.filepath for it in items], jobs=self.config["jobs"].get(int),
                                            progress=False)
        for path, reason in failures:
            self._log.error("{}", reason if str(path) in reason else f"{path}: {reason}")
        by_path = {str(p.path): p for p in preds}
        for item in items:
            p = by_path.get(str(item.filepath))
            if p is None:
                continue
            item.update({"mer_quadrant": p.quadrant or "", "mood": MOODS.get(p.quadrant, ""),
                         "mer_flags": ",".join(p.flags), "mer_model": mid})
            if p.quadrant is not None:
                item.update({"mer_valence": p.valence, "mer_arousal": p.arousal,
                             "mer_prob": p.probabilities[p.quadrant]})
            self._log.info("{}: {}", item.filepath, f"{p.quadrant} {MOODS[p.quadrant]} (valence {p.valence:+.2f}, "
                           f"arousal {p.arousal:+.2f})" if p.quadrant else f"no mood ({', '.join(p.flags)})")
            if write:
                item.try_write()
            item.store()
        return len(by_path), len(failures)
