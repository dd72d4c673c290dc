import pytest

from ml.audio_sync.matching import match_version
from ml.audio_sync.signatures import signature_version
from ml.audio_sync.verdict import verdict_version
from ml.errors import ParameterError
from ml.policy import MatchParams, Policy, SignatureParams, VerdictParams, load_policy, named_policy


def test_defaults_are_the_published_values():
    p = Policy()
    assert p.signature.sample_rate == 44100
    assert p.signature.hop_length == 2048
    assert p.signature.n_bins == 2049
    assert p.signature.n_measurements == 32  # tuned (paper: 64), see SignatureParams.compression_ratio
    assert SignatureParams(compression_ratio=32).n_measurements == 64
    assert p.verdict.sync_limit == "acceptable"  # a QC decision: in sync = ITU-R BT.1359's acceptable band
    assert p.verdict.sync_band() == (0.090, 0.185)
    assert p.verdict.out_of_sync_s == 0.2
    paper = named_policy("paper")  # the published protocol's binary limit, by name
    assert paper.verdict.sync_band() == (0.2, 0.2) and paper.signature == p.signature
    assert (p.verdict.undetectable_lag_s, p.verdict.undetectable_lead_s) == (0.125, 0.045)
    assert (p.verdict.acceptable_lag_s, p.verdict.acceptable_lead_s) == (0.185, 0.090)


def test_policy_file_overrides_defaults(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("[match]\ntheta_min_dist = 7.5\n[verdict]\nout_of_sync_s = 0.1\n")
    policy = load_policy(path)
    assert policy.match.theta_min_dist == 7.5
    assert policy.verdict.out_of_sync_s == 0.1
    assert policy.signature == SignatureParams()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[match]\ntheta_min_dst = 3\n", r"unknown key\(s\) \['theta_min_dst'\] in \[match\]"),
        ("[matching]\n", r"unknown section\(s\) \['matching'\]"),
        ("[match]\ntheta_min_dist = -1\n", "theta_min_dist=-1 must be > 0"),
        ("[shots]\ndeblock = \"no\"\n", "deblock='no' must be true or false"),
        ("[verdict]\nmax_length_mismatch_s = -5\n", "max_length_mismatch_s=-5 must be a number >= 0"),
        ("[verdict]\nmin_dub_s = -1\n", "min_dub_s=-1 must be a number >= 0"),
        ("[verdict]\nsync_limit = \"paper\"\n", "sync_limit='paper' must be one of 'acceptable', 'undetectable', 'symmetric'"),
        ("[match\n", "not valid TOML"),
    ],
)
def test_policy_file_errors_are_clear(tmp_path, text, message):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=message):
        load_policy(path)


def test_missing_policy_file_is_an_error(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")


def test_versions_follow_exactly_the_parameters_used():
    base = Policy()
    theta = MatchParams(theta_min_dist=base.match.theta_min_dist + 1)
    assert signature_version(base.signature) == signature_version(SignatureParams())
    needed = base.verdict.min_matched_frames
    assert match_version(theta, needed) != match_version(base.match, needed)
    assert verdict_version(theta, base.verdict) != verdict_version(base.match, base.verdict)
    tolerance = VerdictParams(acceptable_lead_s=0.1)
    assert verdict_version(base.match, tolerance) != verdict_version(base.match, base.verdict)
    assert match_version(base.match, needed) == match_version(MatchParams(), VerdictParams().min_matched_frames)
    # the evidence floor decides whether the speed-change search runs, so the matches depend on it
    assert match_version(base.match, needed + 10) != match_version(base.match, needed)
    assert signature_version(SignatureParams(theta_db=-50)) != signature_version(base.signature)
