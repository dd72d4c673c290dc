"""Acting on a verdict: the dub conformed to the picture (``conformed_dubs``).

Thin: reads the dub's verdict and evidence, the title's reference signature and lip-sync offset,
calls :func:`ml.audio_sync.conform.conform_dub` and returns the result with what an operator reads.
Downstream of ``title_verdicts``, whose ``within_tolerance`` check does not block, so an
out-of-sync dub is conformed in the same run that judged it.
"""

import dataclasses

from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    AutomationCondition,
    MaterializeResult,
    ResourceParam,
    asset,
)

from assets._common import (
    TRANSIENT_RETRY,
    checked_policy,
    dub_lineage,
    dub_partition,
    failures,
    title_dep,
    title_inputs,
)
from assets.audio_sync import FRAME_MATCH_OFFSETS, REFERENCE_SIGNATURE, TITLE_VERDICTS
from assets.picture import LIP_SYNC_OFFSETS
from ml.audio_sync.conform import ConformResult, conform_dub, conform_version
from ml.audio_sync.matching import FrameMatches
from ml.audio_sync.signatures import Signature
from ml.audio_sync.verdict import Verdict
from ml.picture.title_sync import PictureSync
from ml.policy import Policy
from orchestration.partitions import dubs_partitions
from resources.artifacts import ArtifactIOManager
from resources.deliverables import DeliverablesStore
from resources.media_store import MediaStore
from resources.policy import PolicyResource

__all__ = ["CONFORMED_DUBS", "build_conform_assets", "conformed_relative"]

CONFORMED_DUBS = AssetKey("conformed_dubs")
GROUP = "conform"


def conformed_relative(title: str) -> str:
    """Folder of a title's conformed dubs in the deliverables, as a landing zone lays dubs out."""
    return f"conformed/{title}/dubs"


def build_conform_assets(policy: Policy) -> list[AssetsDefinition]:
    """``conformed_dubs``, versioned by the parameters of ``policy`` it uses (its own and those of
    the re-check)."""

    @asset(
        key=CONFORMED_DUBS,
        partitions_def=dubs_partitions,
        ins={
            "title_verdicts": AssetIn(TITLE_VERDICTS),
            "frame_match_offsets": AssetIn(FRAME_MATCH_OFFSETS),
        },
        deps=[title_dep(REFERENCE_SIGNATURE), title_dep(LIP_SYNC_OFFSETS)],  # read by title (title_inputs)
        code_version=conform_version(policy),
        group_name=GROUP,
        retry_policy=TRANSIENT_RETRY,
        # after every new verdict (the sensor's dub_job stops at the verdict)
        automation_condition=AutomationCondition.eager(),
        kinds={"python", "flac"},
        description=(
            "The dub corrected against the picture from its verdict (shifted, resampled for a drift, "
            "joined per segment at a jump), in its own rate and layout, re-checked: kept only when "
            "it re-checks in sync within the policy's residual limit. In-sync and undetermined dubs "
            "are not conformed (the metadata says why)."
        ),
    )
    def conformed_dubs(
        context: AssetExecutionContext,
        media_store: MediaStore,
        policy_resource: PolicyResource,
        deliverables: DeliverablesStore,
        io_manager: ResourceParam[ArtifactIOManager],
        title_verdicts: Verdict,
        frame_match_offsets: FrameMatches,
    ) -> MaterializeResult:
        checked = checked_policy(policy_resource, policy)
        title, language = dub_partition(context)
        with failures(context):
            titles = title_inputs(
                context, io_manager, {"reference_signature": REFERENCE_SIGNATURE, "lip_sync_offsets": LIP_SYNC_OFFSETS}
            )
            reference_signature: Signature = titles["reference_signature"].value
            lip_sync_offsets: PictureSync = titles["lip_sync_offsets"].value
            track = media_store.dub(title, language)
            with (
                media_store.local_path(track) as path,
                deliverables.local_folder(conformed_relative(title)) as folder,
            ):
                result = conform_dub(
                    path,
                    folder / language,
                    title_verdicts,
                    reference=reference_signature,
                    picture=lip_sync_offsets,
                    policy=checked,
                    original_duration_s=reference_signature.duration_s,
                    matches=frame_match_offsets,
                    progress=context.log.info,
                )
        if result.conformed:
            name = result.path.rsplit("/", 1)[-1]
            result = dataclasses.replace(result, path=deliverables.location(f"{conformed_relative(title)}/{name}"))
        context.log.info(f"{title}/{language}: {result.status}: {result.reason}")
        lineage = dub_lineage(context, titles, [FRAME_MATCH_OFFSETS, TITLE_VERDICTS])
        return MaterializeResult(
            value=result,
            data_version=lineage.data_version,
            tags=lineage.tags,
            metadata={**lineage.metadata, **conform_metadata(result)},
        )

    return [conformed_dubs]


def conform_metadata(result: ConformResult) -> dict:
    """What an operator reads on a conformed dub."""
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "status": result.status,
        "reason": result.reason,
        "kind": result.kind,
        "correction": result.correction or None,
        "file": result.path or None,
        "codec": result.codec or None,
        "layout": result.layout or None,
        "sample_rate": result.sample_rate or None,
        "duration_s": round(result.duration_s, 3) if result.conformed else None,
        "residual_start_ms": ms(result.residual_start_s),
        "residual_end_ms": ms(result.residual_end_s),
    }
