"""The picture assets materialise per title, with their metadata; audio-only titles pass through;
dubs of a title with a picture are judged against the picture."""

import shutil

import pytest
from dagster import AssetCheckSeverity, instance_for_test, materialize

from assets.audio_sync import (
    CHECK_WITHIN_TOLERANCE,
    DUB_SIGNATURE,
    FRAME_MATCH_OFFSETS,
    REFERENCE_SIGNATURE,
    TITLE_VERDICTS,
)
from assets.picture import FACE_TRACKS, LIP_SYNC_OFFSETS, SHOT_BOUNDARIES
from ml.testmedia import DubSpec
from ml.testmedia.picture import PictureTitleSpec, build_picture_title, picture_truth
from orchestration.definitions import build_assets, build_resources
from orchestration.partitions import dub_partition_key
from orchestration.settings import Settings
from resources.artifacts import decode_artifact
from tests.support.helpers import add_partitions

TITLE_CHAIN = [REFERENCE_SIGNATURE, SHOT_BOUNDARIES, FACE_TRACKS, LIP_SYNC_OFFSETS]
DUB_CHAIN = [DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS]


def _materialise(root, tmp_path, titles):
    settings = Settings(media_root=str(root), artifact_root=str(tmp_path / "artifacts"), policy_path="")
    results = {}
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("titles", titles)
        for title in titles:
            results[title] = materialize(
                build_assets(settings),
                selection=[SHOT_BOUNDARIES, FACE_TRACKS, LIP_SYNC_OFFSETS],
                partition_key=title,
                instance=instance,
                resources=build_resources(settings),
            )
    return results


def test_picture_assets_materialise_per_title(tmp_path, real_media):
    root = tmp_path / "landing"
    for title, clip in (("talk", "talking_heads/grid/lbbc2a.mpg"), ("radio", "speech/de.wav")):
        (root / title / "dubs").mkdir(parents=True)
        shutil.copy(real_media / clip, root / title / f"original{(real_media / clip).suffix}")
    results = _materialise(root, tmp_path, ["talk", "radio"])

    talk = results["talk"]
    assert talk.success
    shots_meta = talk.asset_materializations_for_node("shot_boundaries")[0].metadata
    assert shots_meta["shots"].value == 1 and shots_meta["hard_cuts"].value == 0 and shots_meta["scan"].value == "progressive"
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
    assert radio.asset_materializations_for_node("lip_sync_offsets")[0].metadata["status"].value == "no_picture"


@pytest.fixture(scope="module")
def picture_title(tmp_path_factory, real_media):
    """A generated title with a picture whose original audio leads it by 240 ms, and two dubs: one
    that copies the original's timing (out of sync with the picture) and one made 240 ms later."""
    root = tmp_path_factory.mktemp("picture_landing")
    spec = PictureTitleSpec(
        "news", picture_offset_s=0.24, seed=7,  # the six default talking heads
        dubs=(DubSpec("fr", offset_s=0.0), DubSpec("de", offset_s=-0.24)),
    )  # fmt: skip
    truth = build_picture_title(root, spec, real_media=real_media)
    return root, truth


def test_dub_verdicts_are_against_the_picture(picture_title, tmp_path):
    root, truth = picture_title
    settings = Settings(media_root=str(root), artifact_root=str(tmp_path / "artifacts"), policy_path="")
    with instance_for_test() as instance:
        add_partitions(instance, ["news"], ["fr", "de"])
        title = materialize(
            build_assets(settings), selection=TITLE_CHAIN, partition_key="news", instance=instance,
            resources=build_resources(settings),
        )  # fmt: skip
        assert title.success
        lip = title.asset_materializations_for_node("lip_sync_offsets")[0].metadata
        assert lip["status"].value == "determined"
        assert lip["speaking_tracks"].value >= 4 and lip["tracks"].value == 6
        assert abs(lip["offset_ms"].value - 240) <= 45
        assert lip["lip_sync_curves"].value.startswith("![lip-sync offset per track over time, and score per shift](data:image/png;base64,")
        picture = decode_artifact((tmp_path / "artifacts/lip_sync_offsets/news.npz").read_bytes())
        assert picture.curves.shape == (6, len(picture.shifts_s))

        verdicts = {}
        for language in ("fr", "de"):
            result = materialize(
                build_assets(settings), selection=DUB_CHAIN, partition_key=dub_partition_key("news", language),
                instance=instance, resources=build_resources(settings), raise_on_error=False,
            )  # fmt: skip
            meta = result.asset_materializations_for_node("title_verdicts")[0].metadata
            verdicts[language] = (result, meta)
        expected = {lang: picture_truth(dub, truth["picture_offset_s"])["offset_s"] for lang, dub in truth["dubs"].items()}

        fr, fr_meta = verdicts["fr"]
        assert fr_meta["reference"].value == "picture" and fr_meta["kind"].value == "constant"
        assert abs(fr_meta["offset_ms"].value - expected["fr"] * 1000) <= 45
        # out of tolerance: the check fails with severity ERROR; it does not block, so the run is green
        assert fr.success
        checks = [e for e in fr.get_asset_check_evaluations() if e.check_name == CHECK_WITHIN_TOLERANCE]
        assert checks and not checks[0].passed and checks[0].severity == AssetCheckSeverity.ERROR
        assert "dub ↔ picture" in fr_meta["reason"].value

        de, de_meta = verdicts["de"]
        assert de.success
        assert de_meta["reference"].value == "picture" and de_meta["kind"].value == "in_sync"
        assert abs(de_meta["offset_ms"].value - expected["de"] * 1000) <= 45
        assert de_meta["timeline"].value.startswith("![offset timeline](data:image/png;base64,")


def test_a_still_picture_reaches_the_verdict_as_not_verified_and_the_run_is_green(tmp_path, real_media):
    # a title whose picture is one frame of its first speaker held over the whole programme: the face
    # is tracked, its lips never move, so lip sync is not run, and the dub is judged against the
    # original audio, its reason saying why the picture was not verified
    from ml.testmedia.bad_picture import bad_picture_copy
    from ml.testmedia.picture import GAP_S, TALKING_HEADS

    root = tmp_path / "landing"
    spec = PictureTitleSpec("still", clips=TALKING_HEADS[:2], seed=3, dubs=(DubSpec("fr", offset_s=0.0),))
    build_picture_title(root, spec, real_media=real_media)
    original = root / "still" / "original.mkv"
    bad_picture_copy(original, tmp_path / "still.mkv", "still", at_s=GAP_S + 1.0).replace(original)
    settings = Settings(media_root=str(root), artifact_root=str(tmp_path / "artifacts"), policy_path="")
    with instance_for_test() as instance:
        add_partitions(instance, ["still"], ["fr"])
        title = materialize(
            build_assets(settings), selection=TITLE_CHAIN, partition_key="still", instance=instance,
            resources=build_resources(settings),
        )  # fmt: skip
        assert title.success
        faces = title.asset_materializations_for_node("face_tracks")[0].metadata
        assert faces["tracks"].value >= 1 and faces["picture_problem"].value == "still"
        lip = title.asset_materializations_for_node("lip_sync_offsets")[0].metadata
        assert lip["status"].value == "no_speaker" and lip["offset_ms"].value is None
        assert "the picture is a still image" in lip["reason"].value
        dub = materialize(
            build_assets(settings), selection=DUB_CHAIN, partition_key=dub_partition_key("still", "fr"),
            instance=instance, resources=build_resources(settings), raise_on_error=False,
        )  # fmt: skip
        assert dub.success
        verdict = dub.asset_materializations_for_node("title_verdicts")[0].metadata
        assert verdict["reference"].value == "original_audio"
        reason = verdict["reason"].value
        assert "relative to the original audio, not the picture: no face track can show a speaker" in reason
        assert "the picture is a still image" in reason
        assert verdict["kind"].value == "in_sync"  # the dub itself is in sync with the original audio
