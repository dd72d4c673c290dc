"""The original ↔ picture half: is the original audio in sync with the faces on screen.

- :mod:`ml.picture.shots`: shot boundaries from HSV histogram changes (fades as their own kind).
- :mod:`ml.picture.faces`: RetinaFace detections per shot, linked by box overlap and identity into
  tracks, and why a picture cannot be read (black, still, no face, faces too small).
- :mod:`ml.picture.lipsync`: the weight-free lip-sync estimator (mouth motion against the audio).
- :mod:`ml.picture.syncnet`: the SyncNet v2 model (its public checkpoint loads unchanged).
- :mod:`ml.picture.syncnet_train`: self-supervised training of that model on in-sync clips.
- :mod:`ml.picture.title_sync`: a title's offset from its tracks, and dub ↔ picture verdicts.
- :mod:`ml.picture.bad_input`: a picture lip sync cannot read, as the title's status and reason.
"""
