"""Acting on the verdicts: ``conformed_dubs`` downstream of a green verdict run, the vendor sheet,
``catalogue_report``, and ``dubsync conform`` / ``dubsync report`` on a real instance."""

import json

import pyarrow.parquet as pq
from dagster import AssetCheckSeverity, AssetKey, AssetsDefinition, instance_for_test, materialize

from assets.audio_sync import CHECK_WITHIN_TOLERANCE, DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS
from assets.conform import CONFORMED_DUBS
from orchestration.cli import main, refresh_report, run_check
from orchestration.definitions import build_assets, build_definitions, build_resources
from orchestration.partitions import dub_partition_key
from orchestration.settings import Settings
from tests.support.helpers import add_partitions, title_chain


def test_an_out_of_sync_dub_is_conformed_after_a_green_verdict_run(landing_zone, tmp_path):
    root, truth = landing_zone
    artifacts = tmp_path / "artifacts"
    settings = Settings(media_root=str(root), artifact_root=str(artifacts))
    with instance_for_test() as instance:
        add_partitions(instance, ["alpha"], ["fr", "de"])
        assert materialize(build_assets(settings), selection=title_chain(), partition_key="alpha",
                           instance=instance, resources=build_resources(settings)).success  # fmt: skip
        results = {}
        for language in ("fr", "de"):
            result = materialize(
                build_assets(settings), selection=[DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS, CONFORMED_DUBS],
                partition_key=dub_partition_key("alpha", language), instance=instance,
                resources=build_resources(settings), raise_on_error=False,
            )  # fmt: skip
            # a QC failure is a result: the run is green, the check failed (ERROR) for the 0.8-s lead
            assert result.success, language
            (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == CHECK_WITHIN_TOLERANCE]
            assert check.passed == (language == "de")
            if language == "fr":
                assert check.severity == AssetCheckSeverity.ERROR
            results[language] = result

        fr = results["fr"].asset_materializations_for_node("conformed_dubs")[0].metadata
        assert fr["status"].value == "conformed", fr["reason"].value
        assert abs(fr["residual_start_ms"].value) <= 5 and abs(fr["residual_end_ms"].value) <= 5
        assert fr["file"].value == str(artifacts / "deliverables/conformed/alpha/dubs/fr.flac")
        assert (artifacts / "deliverables/conformed/alpha/dubs/fr.flac").is_file()
        de = results["de"].asset_materializations_for_node("conformed_dubs")[0].metadata
        assert de["status"].value == "not_conformed" and "nothing to conform" in de["reason"].value
        assert not (artifacts / "deliverables/conformed/alpha/dubs/de.flac").exists()

        # the vendor's sheet, linked from the verdict: verdict, correction and the plot embedded
        verdict = results["fr"].asset_materializations_for_node("title_verdicts")[0].metadata
        sheet = artifacts / "deliverables/sheets/alpha/fr.html"
        assert verdict["vendor_sheet"].value == str(sheet)
        page = sheet.read_text()
        assert "constant" in page and verdict["correction"].value in page
        assert '<img alt="offset timeline" src="data:image/png;base64,' in page

        # the report lists both dubs, the out-of-sync one first, with its conform
        rows = refresh_report(str(root), artifact_root=str(artifacts), instance=instance, emit=lambda _: None)
        assert [(r["language"], r["kind"], r["conformed"]) for r in rows] == [
            ("fr", "constant", "yes"), ("de", "in_sync", "no")
        ]
        assert rows[0]["run_id"] == results["fr"].run_id and rows[0]["time"].endswith("+00:00")
        report = instance.get_latest_materialization_event(AssetKey("catalogue_report")).asset_materialization
        assert report.metadata["report"].value.index("| alpha | fr |") < report.metadata["report"].value.index(
            "| alpha | de |"
        )
        table = pq.read_table(artifacts / "deliverables/report/catalogue_report.parquet").to_pylist()
        assert [(r["language"], r["kind"]) for r in table] == [("fr", "constant"), ("de", "in_sync")]
        assert (artifacts / "deliverables/report/catalogue_report.csv").read_text().startswith("title,language,kind,")


def test_conform_command_writes_a_landing_zone_that_checks_in_sync(landing_zone, tmp_path, monkeypatch, capsys):
    root, _ = landing_zone
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DUBSYNC_MEDIA_ROOT", str(root))
    out = tmp_path / "conformed"
    assert main(["conform", str(root), "--out", str(out), "--artifacts", str(tmp_path / "artifacts")]) == 0
    printed = capsys.readouterr().out
    assert "alpha/fr: constant +800" in printed and "-> residual" in printed
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "alpha/dubs/de.m4a", "alpha/dubs/fr.flac", "alpha/original.flac", "alpha/title.json"
    ]

    # the report prints from the instance the same kinds as the command line's rows
    assert main(["report", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(r["title"], r["language"], r["kind"], r["conformed"]) for r in report] == [
        ("alpha", "fr", "constant", "yes"), ("alpha", "de", "in_sync", "no")
    ]
    assert main(["report", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("alpha,fr,constant,False,")

    # dubsync check on the conformed set: every dub in sync
    with instance_for_test() as instance:
        rows = run_check(str(out), artifact_root=str(tmp_path / "recheck"), instance=instance, emit=lambda _: None)
    assert {(r["language"], r["kind"]) for r in rows} == {("fr", "in_sync"), ("de", "in_sync")}
    assert all(abs(r["offset_ms"]) <= 5 for r in rows)


def test_conforms_and_the_report_follow_new_verdicts_by_automation(tmp_path):
    from dagster import AssetMaterialization, evaluate_automation_conditions

    settings = Settings(media_root=str(tmp_path / "lz"), artifact_root=str(tmp_path / "artifacts"))
    assets = build_definitions(settings)
    key = dub_partition_key("alpha", "fr")
    with instance_for_test() as instance:
        add_partitions(instance, ["alpha"], ["fr"])
        first = evaluate_automation_conditions(defs=assets, instance=instance)
        assert first.total_requested == 0
        for asset_key, partition in [("reference_signature", "alpha"), ("lip_sync_offsets", "alpha"),
                                     ("frame_match_offsets", key), ("title_verdicts", key)]:  # fmt: skip
            instance.report_runless_asset_event(AssetMaterialization(asset_key, partition=partition))
        after = evaluate_automation_conditions(defs=assets, instance=instance, cursor=first.cursor)
        assert after.get_requested_partitions(CONFORMED_DUBS) == {key}
        assert after.get_num_requested(AssetKey("catalogue_report")) == 1


def test_a_conform_parameter_changes_only_the_conform_code_version(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("[conform]\ncrossfade_s = 0.02\n")

    def versions(policy_path=""):
        assets = build_assets(Settings(media_root=str(tmp_path), artifact_root=str(tmp_path), policy_path=policy_path))
        return {key: v for a in assets if isinstance(a, AssetsDefinition) for key, v in a.code_versions_by_key.items()}

    base, changed = versions(), versions(str(policy))
    assert {k for k in base if base[k] != changed[k]} == {CONFORMED_DUBS}


def test_a_refused_conform_fails_its_asset_and_the_report_says_why(landing_zone, tmp_path):
    root, _ = landing_zone
    policy = tmp_path / "policy.toml"
    policy.write_text("[verdict]\nmax_length_mismatch_s = 0.5\n")  # fr leads by 0.8 s: 0.8 s of silence to pad
    artifacts = tmp_path / "artifacts"
    with instance_for_test() as instance:
        rows = run_check(str(root), artifact_root=str(artifacts), policy_path=str(policy), instance=instance,
                         emit=lambda _: None, conform=True)  # fmt: skip
        fr = next(r for r in rows if r["language"] == "fr")
        assert fr["kind"] == "constant" and fr["conformed"] == "failed"
        assert fr["conform_reason"].startswith("not conformed: the correction would pad 0.8 s of silence")
        assert not (artifacts / "deliverables/conformed/alpha/dubs").exists() or not any(
            (artifacts / "deliverables/conformed/alpha/dubs").iterdir()
        )
        report = refresh_report(str(root), artifact_root=str(artifacts), instance=instance, emit=lambda _: None)
        assert report[0]["language"] == "fr" and report[0]["conformed"] == "failed"
        assert report[0]["conform_reason"] == fr["conform_reason"]


def test_a_verdict_policy_change_backfills_conforms_and_the_report_in_their_own_jobs(
    landing_zone, tmp_path, monkeypatch, capsys
):
    root, _ = landing_zone
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DUBSYNC_MEDIA_ROOT", str(root))
    monkeypatch.setenv("DUBSYNC_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    assert main(["conform", str(root), "--out", str(tmp_path / "out"), "--artifacts", str(tmp_path / "artifacts")]) == 0
    capsys.readouterr()
    policy = tmp_path / "policy.toml"
    policy.write_text("[verdict]\nacceptable_lead_s = 0.1\n")
    assert main(["backfill", "--stale", "--in-process", "--policy", str(policy)]) == 0
    printed = capsys.readouterr().out
    assert "title_verdicts × 2" in printed and "conformed_dubs × 2" in printed and "catalogue_report × 1" in printed
    assert "FAILED" not in printed and "run(s) succeeded" in printed
