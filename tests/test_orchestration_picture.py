"""The picture assets materialise per title, with their metadata; audio-only titles pass through."""

import shutil

from dagster import instance_for_test, materialize

from assets.picture import FACE_TRACKS, SHOT_BOUNDARIES
from orchestration.definitions import build_assets, build_resources
from orchestration.settings import Settings
from resources.artifacts import decode_artifact


def _materialise(root, tmp_path, titles):
    settings = Settings(media_root=str(root), artifact_root=str(tmp_path / "artifacts"), policy_path="")
    results = {}
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("titles", titles)
        for title in titles:
            results[title] = materialize(
                build_assets(settings),
                selection=[SHOT_BOUNDARIES, FACE_TRACKS],
                partition_key=title,
                instance=instance,
                resources=build_resources(settings),
            )
    return results


def test_picture_assets_materialise_per_title(tmp_path, shared_media):
    root = tmp_path / "landing"
    for title, clip in (("talk", "talking_heads/grid/lbbc2a.mpg"), ("radio", "speech/de.wav")):
        (root / title / "dubs").mkdir(parents=True)
        shutil.copy(shared_media / clip, root / title / f"original{(shared_media / clip).suffix}")
    results = _materialise(root, tmp_path, ["talk", "radio"])

    talk = results["talk"]
    assert talk.success
    shots_meta = talk.asset_materializations_for_node("shot_boundaries")[0].metadata
    assert shots_meta["shots"].value == 1 and shots_meta["hard_cuts"].value == 0
    assert shots_meta["picture"].value == "yes" and "| shot |" in shots_meta["shot_table"].value
    faces_meta = talk.asset_materializations_for_node("face_tracks")[0].metadata
    assert faces_meta["tracks"].value == 1
    assert faces_meta["face_on_screen_share"].value > 0.9
    assert faces_meta["contact_sheet"].value.startswith("![faces of talk](data:image/png;base64,")
    tracks = decode_artifact((tmp_path / "artifacts/face_tracks/talk.npz").read_bytes())
    assert tracks.n_tracks == 1 and tracks.box.shape[1] == 4

    radio = results["radio"]
    assert radio.success
    assert radio.asset_materializations_for_node("shot_boundaries")[0].metadata["picture"].value == "none (audio only)"
    assert radio.asset_materializations_for_node("face_tracks")[0].metadata["tracks"].value == 0
