"""Dub ↔ original audio assets: signatures, frame matches and verdicts.

Thin definitions: each reads its partition, calls ``ml`` and returns the value with the metadata a
QC operator reads in the UI. They are built from a :class:`ml.policy.Policy` so that each asset's
``code_version`` is derived from exactly the parameters it uses.
"""



from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    Output,
    ResourceParam,
    asset,
)

from assets._common import (
    PROGRESS_STEP,
    TRANSIENT_RETRY,
    checked_policy,
    dub_lineage,
    dub_partition,
    failures,
    fetching,
    progress_logger,
    title_dep,
    title_inputs,
)
from assets.media import DUB_MEDIA, ORIGINAL_MEDIA, SOURCE_VERSION
from assets.picture import LIP_SYNC_OFFSETS
from ml.audio_sync.matching import FrameMatches, match_version, match_with_speed_search
from ml.audio_sync.signatures import Signature, signature_from_file, signature_version
from ml.audio_sync.verdict import Verdict, verdict_version
from ml.picture.title_sync import PictureSync, decide_against_picture
from ml.policy import Policy
from ml.report import offset_timeline_png, png_markdown, verdict_model_lines
from ml.vendor_sheet import vendor_sheet_html
from orchestration.partitions import dubs_partitions, titles_partitions
from resources.artifacts import ArtifactIOManager
from resources.deliverables import DeliverablesStore
from resources.media_store import MediaStore, Track
from resources.policy import PolicyResource

__all__ = [
    "REFERENCE_SIGNATURE",
    "DUB_SIGNATURE",
    "FRAME_MATCH_OFFSETS",
    "TITLE_VERDICTS",
    "CHECK_ENOUGH_EVIDENCE",
    "CHECK_WITHIN_TOLERANCE",
    "CHECK_COMPLETE_DELIVERY",
    "build_audio_sync_assets",
]

REFERENCE_SIGNATURE = AssetKey("reference_signature")
DUB_SIGNATURE = AssetKey("dub_signature")
FRAME_MATCH_OFFSETS = AssetKey("frame_match_offsets")
TITLE_VERDICTS = AssetKey("title_verdicts")
CHECK_ENOUGH_EVIDENCE = "enough_evidence"
CHECK_WITHIN_TOLERANCE = "within_tolerance"
CHECK_COMPLETE_DELIVERY = "complete_delivery"
GROUP = "audio_sync"


def _signature(context, store: MediaStore, track: Track, policy: Policy, role: str) -> Output[Signature]:
    location = store.describe(track)
    context.log.info(f"signature of {location}")
    with failures(context), store.local_path(track, fetching(context, location)) as path:
        signature = signature_from_file(
            path,
            policy.signature,
            progress=progress_logger(context, f"decoding {track.name}"),
            role=role,
            allow_silent=role == "dub",  # a silent dub is judged undetermined; a silent original is an error
        )
    if len(signature.frames) == 0:
        context.log.warning(f"{location}: silent: no frame loud enough to match; its verdict will be undetermined")
    hours = signature.duration_s / 3600
    return Output(
        signature,
        metadata={
            "file": location,
            SOURCE_VERSION: track.version,
            "duration_s": round(signature.duration_s, 3),
            "frames": signature.n_frames,
            "kept_frames": len(signature.frames),
            "kept_share": round(signature.kept_fraction, 4),
            # the whole signature, band envelopes included; and the envelopes' part of it
            "signature_mb_per_hour": round(signature.nbytes / 1e6 / hours, 3) if hours else 0.0,
            "envelope_mb_per_hour": round(signature.envelope_nbytes / 1e6 / hours, 3) if hours else 0.0,
            "start_time_s": signature.start_time_s,
        },
    )


def build_audio_sync_assets(policy: Policy) -> list[AssetsDefinition]:
    """The four audio assets, versioned by the parameters of ``policy`` each one uses."""

    @asset(
        key=REFERENCE_SIGNATURE,
        partitions_def=titles_partitions,
        deps=[ORIGINAL_MEDIA],
        code_version=signature_version(policy.signature),
        group_name=GROUP,
        retry_policy=TRANSIENT_RETRY,
        kinds={"python", "numpy"},
        description="Compressive-sensing signature of the title's original-language track.",
    )
    def reference_signature(
        context: AssetExecutionContext, media_store: MediaStore, policy_resource: PolicyResource
    ) -> Output[Signature]:
        checked = checked_policy(policy_resource, policy)
        with failures(context):
            track = media_store.original(context.partition_key)
        return _signature(context, media_store, track, checked, "reference")

    @asset(
        key=DUB_SIGNATURE,
        partitions_def=dubs_partitions,
        deps=[DUB_MEDIA],
        code_version=signature_version(policy.signature),
        group_name=GROUP,
        retry_policy=TRANSIENT_RETRY,
        kinds={"python", "numpy"},
        description="Compressive-sensing signature of one dubbed track.",
    )
    def dub_signature(
        context: AssetExecutionContext, media_store: MediaStore, policy_resource: PolicyResource
    ) -> Output[Signature]:
        checked = checked_policy(policy_resource, policy)
        title, language = dub_partition(context)
        with failures(context):
            track = media_store.dub(title, language)
        return _signature(context, media_store, track, checked, "dub")

    @asset(
        key=FRAME_MATCH_OFFSETS,
        partitions_def=dubs_partitions,
        ins={"dub_signature": AssetIn(DUB_SIGNATURE)},
        deps=[title_dep(REFERENCE_SIGNATURE)],  # read by title (assets._common.title_inputs)
        code_version=match_version(policy.match, policy.verdict.min_matched_frames),
        group_name=GROUP,
        retry_policy=TRANSIENT_RETRY,
        kinds={"python", "numpy"},
        check_specs=[
            AssetCheckSpec(
                CHECK_ENOUGH_EVIDENCE,
                asset=FRAME_MATCH_OFFSETS,
                description="Enough dub frames match the original's music and effects to judge.",
            )
        ],
        description="Per-frame offsets of the dub against the original (matched M&E frames).",
    )
    def frame_match_offsets(
        context: AssetExecutionContext,
        media_store: MediaStore,
        policy_resource: PolicyResource,
        io_manager: ResourceParam[ArtifactIOManager],
        dub_signature: Signature,
    ):
        checked = checked_policy(policy_resource, policy)
        title, language = dub_partition(context)
        with failures(context):
            titles = title_inputs(context, io_manager, {"reference_signature": REFERENCE_SIGNATURE})
        reference_signature: Signature = titles["reference_signature"].value
        step = {"next": PROGRESS_STEP}

        def progress(share: float) -> None:
            if share >= step["next"]:
                context.log.info(f"matching {title}/{language}: {share:.0%}")
                step["next"] = share + PROGRESS_STEP

        def resignature(speed: float) -> Signature:
            track = media_store.dub(title, language)
            with media_store.local_path(track, fetching(context, media_store.describe(track))) as path:
                return signature_from_file(path, checked.signature, speed=speed)

        with failures(context):
            matches = match_with_speed_search(
                dub_signature,
                reference_signature,
                checked.match,
                resignature=resignature,
                min_matched_frames=checked.verdict.min_matched_frames,
                progress=progress,
                log=context.log.info,
            )
        needed = checked.verdict.min_matched_frames
        plot = offset_timeline_png(
            matches, title=f"{title} / {language}: dub vs original", track_offset_s=matches.offset_s
        )
        matched = matches.n_matched
        lineage = dub_lineage(context, titles, [DUB_SIGNATURE])
        return MaterializeResult(
            value=matches,
            data_version=lineage.data_version,
            tags=lineage.tags,
            metadata={
                **lineage.metadata,
                "offset_ms": round(matches.offset_s * 1000, 1) if matched else None,
                "matched_frames": matched,
                "dub_frames": int(len(matches.dub_times)),
                "coverage": round(matches.coverage, 3),
                "spread_ms": round(matches.spread_s * 1000, 1) if matched else None,
                "agreement": round(matches.agreement, 3),
                "speed_searched": matches.speed,
                "timeline": MetadataValue.md(png_markdown(plot, "per-frame offset")),
            },
            check_results=[
                AssetCheckResult(
                    check_name=CHECK_ENOUGH_EVIDENCE,
                    passed=matched >= needed,
                    severity=AssetCheckSeverity.WARN,
                    description=f"{matched} matched frames (need {needed})",
                    metadata={"matched_frames": matched, "coverage": round(matches.coverage, 3)},
                )
            ],
        )

    @asset(
        key=TITLE_VERDICTS,
        partitions_def=dubs_partitions,
        ins={"frame_match_offsets": AssetIn(FRAME_MATCH_OFFSETS)},
        deps=[title_dep(LIP_SYNC_OFFSETS)],  # read by title (assets._common.title_inputs)
        code_version=verdict_version(policy.match, policy.verdict),
        group_name=GROUP,
        retry_policy=TRANSIENT_RETRY,
        kinds={"python"},
        check_specs=[
            AssetCheckSpec(
                CHECK_WITHIN_TOLERANCE,
                asset=TITLE_VERDICTS,
                description=(
                    "The dub is in sync with the picture (or with the original audio when the title "
                    "has no usable picture): |offset| within the policy's out-of-sync limit. Not blocking: "
                    "a dub out of sync is a QC result (severity ERROR, the run green), and conforming "
                    "runs downstream of it."
                ),
            ),
            AssetCheckSpec(
                CHECK_COMPLETE_DELIVERY,
                asset=TITLE_VERDICTS,
                description=(
                    "The dub holds the whole programme: its length, its measured offsets applied, is the "
                    "original's within max_length_mismatch_s (appended credits or a missing tail fail it "
                    "with both lengths and where). Sync is judged on what the dub holds either way."
                ),
            ),
        ],
        description=(
            "The verdict per title and dubbed language: dub ↔ picture offset (dub ↔ original + the "
            "title's lip-sync offset), kind, ITU band, correction."
        ),
    )
    def title_verdicts(
        context: AssetExecutionContext,
        policy_resource: PolicyResource,
        deliverables: DeliverablesStore,
        io_manager: ResourceParam[ArtifactIOManager],
        frame_match_offsets: FrameMatches,
    ):
        checked = checked_policy(policy_resource, policy)
        title, language = dub_partition(context)
        with failures(context):
            titles = title_inputs(context, io_manager, {"lip_sync_offsets": LIP_SYNC_OFFSETS})
        lip_sync_offsets: PictureSync = titles["lip_sync_offsets"].value
        with failures(context):
            verdict = decide_against_picture(
                frame_match_offsets, lip_sync_offsets, match=checked.match, params=checked.verdict
            )
        band = (-checked.verdict.acceptable_lag_s, checked.verdict.acceptable_lead_s)
        plot = offset_timeline_png(
            frame_match_offsets,
            title=f"{title} / {language}: {verdict.kind} (against the {verdict.reference.replace('_', ' ')})",
            track_offset_s=verdict.offset_s,
            band=band,
            model=verdict_model_lines(verdict),
            picture_offset_s=verdict.original_to_picture_s,
        )
        context.log.info(f"{title}/{language}: {verdict.kind}, {verdict.reason}")
        # the vendor's sheet: verdict, correction, plot; no run id in it, so the same verdict writes the same bytes
        sheet_html = vendor_sheet_html(title, language, verdict, plot)
        sheet = deliverables.write_bytes(f"sheets/{title}/{language}.html", sheet_html.encode())
        lineage = dub_lineage(context, titles, [FRAME_MATCH_OFFSETS])
        return MaterializeResult(
            value=verdict,
            data_version=lineage.data_version,
            tags=lineage.tags,
            metadata={**lineage.metadata, **_verdict_metadata(verdict, plot), "vendor_sheet": MetadataValue.path(sheet)},
            check_results=[
                AssetCheckResult(
                    check_name=CHECK_WITHIN_TOLERANCE,
                    passed=verdict.in_sync,
                    # out of tolerance is an ERROR result, not a broken run (the check does not block,
                    # so conforming runs downstream); too little evidence is a warning for a person
                    severity=AssetCheckSeverity.WARN if verdict.kind == "undetermined" else AssetCheckSeverity.ERROR,
                    description=verdict.reason,
                    metadata={"offset_ms": verdict.offset_ms, "kind": verdict.kind},
                ),
                _completeness_result(verdict),
            ],
        )

    return [reference_signature, dub_signature, frame_match_offsets, title_verdicts]


def _completeness_result(verdict: Verdict) -> AssetCheckResult:
    """The ``complete_delivery`` check: an ERROR when the dub's length is not the original's."""
    return AssetCheckResult(
        check_name=CHECK_COMPLETE_DELIVERY,
        passed=verdict.complete is not False,  # None: the original's length is unknown
        severity=AssetCheckSeverity.ERROR,
        description=verdict.completeness,
        metadata={
            "dub_duration_s": None if verdict.dub_duration_s is None else round(verdict.dub_duration_s, 3),
            "original_duration_s": None if verdict.original_duration_s is None else round(verdict.original_duration_s, 3),
            "head_s": None if verdict.head_s is None else round(verdict.head_s, 3),
            "tail_s": None if verdict.tail_s is None else round(verdict.tail_s, 3),
        },
    )


def _verdict_metadata(verdict: Verdict, plot: bytes) -> dict:
    return {
        "kind": verdict.kind,
        "in_sync": verdict.in_sync,
        "offset_ms": verdict.offset_ms,
        "itu_band": verdict.band,
        "correction": verdict.correction,
        "reason": verdict.reason,
        "reference": verdict.reference,
        "matched_frames": verdict.matched_frames,
        "coverage": round(verdict.coverage, 3),
        "explained": round(verdict.explained, 3),
        "complete": verdict.complete,
        "drift_ppm": None if verdict.drift_ppm is None else round(verdict.drift_ppm, 1),
        "offset_end_ms": None if verdict.offset_end_s is None else round(verdict.offset_end_s * 1000, 1),
        "verdict": MetadataValue.json(verdict.to_dict()),
        "timeline": MetadataValue.md(png_markdown(plot, "offset timeline")),
    }
