import fsspec
import pytest

from ml.errors import MissingMediaError
from resources.landing_zone import LandingZoneError, normalise_language, slug_title
from resources.media_store import LocalMediaStore, ObjectStoreMediaStore


@pytest.mark.parametrize(
    "tag, key",
    [("fr", "fr"), ("FRA", "fra"), ("fre", "fre"), ("pt-BR", "pt-br"), ("es_419", "es-419"), ("zh", "zh")],
)
def test_language_tags_are_validated_and_normalised(tag, key):
    assert normalise_language(tag) == key


@pytest.mark.parametrize("tag", ["xx", "english", "de-DEU", "", "fr-ca-x", "f|r"])
def test_bad_language_tags_are_refused(tag):
    with pytest.raises(LandingZoneError):
        normalise_language(tag)


@pytest.mark.parametrize(
    "name, slug",
    [("Le Dîner, Part 1", "le_diner_part_1"), ("film|a[1]", "film_a_1"), ("EP_01", "ep_01")],
)
def test_titles_are_slugged_for_partition_keys(name, slug):
    assert slug_title(name) == slug
    assert not set("|,[]") & set(slug)


def test_title_without_letters_is_refused():
    with pytest.raises(LandingZoneError):
        slug_title("|||")


def _populate(write):
    write("Film A/original.wav", b"o" * 10)
    write("Film A/dubs/fr.flac", b"f")
    write("Film A/dubs/xx.flac", b"x")
    write("Film A/dubs/notes.txt", b"n")
    write("Film A/title.json", b'{"original_language": "en"}')
    write("Film B/dubs/de.wav", b"d")


def _check_listing(store):
    titles, problems = store.scan()
    assert problems == []
    assert sorted(titles) == ["film_a", "film_b"]
    a = titles["film_a"]
    assert a.original.name == "Film A/original.wav"
    assert sorted(a.dubs) == ["fr"]
    assert a.original_language == "en"
    assert any("xx.flac" in p and "not an ISO 639" in p for p in a.problems)
    with pytest.raises(MissingMediaError, match="film_b.*no usable original"):
        store.original("film_b")
    assert store.dub("film_b", "de").name == "Film B/dubs/de.wav"
    with store.local_path(a.dubs["fr"]) as path:
        assert path.read_bytes() == b"f"
    return titles


def test_local_store_lists_versions_and_reports_contract_breaks(tmp_path):
    def write(name, data):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)

    _populate(write)
    store = LocalMediaStore(root=str(tmp_path))
    before = _check_listing(store)
    import os
    import time

    time.sleep(0.01)
    write("Film A/dubs/fr.flac", b"F2")
    os.utime(tmp_path / "Film A/dubs/fr.flac")
    after, _ = store.scan()
    assert after["film_a"].dubs["fr"].version != before["film_a"].dubs["fr"].version
    assert after["film_a"].original.version == before["film_a"].original.version


def test_object_store_works_on_any_fsspec_filesystem(tmp_path):
    fs = fsspec.filesystem("memory")
    fs.rm("/lz", recursive=True) if fs.exists("/lz") else None
    _populate(lambda name, data: fs.pipe(f"/lz/{name}", data))
    store = ObjectStoreMediaStore(url="memory://lz", cache_dir=str(tmp_path / "cache"))
    _check_listing(store)


def test_colliding_title_slugs_are_reported(tmp_path):
    (tmp_path / "Film A").mkdir()
    (tmp_path / "film a").mkdir()
    titles, problems = LocalMediaStore(root=str(tmp_path)).scan()
    assert list(titles) == ["film_a"]
    assert "both map to id 'film_a'" in problems[0]


def _store_of_one_title(root, cache):
    (root / "Film A" / "dubs").mkdir(parents=True)
    (root / "Film A" / "original.wav").write_bytes(bytes(range(256)) * (64 << 10))  # 16 MiB
    (root / "Film A" / "dubs" / "fr.flac").write_bytes(b"f")
    return ObjectStoreMediaStore(url=f"file://{root}", cache_dir=str(cache))


def test_object_store_copies_a_file_fetched_by_several_steps_at_once(tmp_path):
    # a title's signature and its shots fetch its original at the same time: each gets the whole file
    # (one shared partial copy made all but one fail, renamed away under them)
    import threading

    store = _store_of_one_title(tmp_path / "lz", tmp_path / "cache")
    track = store.original("film_a")
    expected = (tmp_path / "lz" / "Film A" / "original.wav").read_bytes()
    heard = []  # a copy's progress: bytes done of the file's size, every 8 MiB
    with store.local_path(track, lambda done, total: heard.append((done, total))) as path:
        assert path.read_bytes() == expected
    assert heard == [(8 << 20, 16 << 20), (16 << 20, 16 << 20)]
    for trial in range(3):
        for leftover in (tmp_path / "cache").glob("*"):
            leftover.unlink()
        start, results = threading.Barrier(4), []

        def fetch(start=start, results=results):
            start.wait()
            try:
                with store.local_path(track) as path:
                    results.append(path.read_bytes() == expected)
            except Exception as exc:  # noqa: BLE001  # reported below
                results.append(repr(exc))

        workers = [threading.Thread(target=fetch) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert results == [True] * 4, (trial, results)
        assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"film_a-original-{track.version}.wav"]


def test_object_store_cache_drops_copies_unused_for_a_day(tmp_path):
    import os
    import time

    from resources.media_store import CACHE_UNUSED_S

    cache = tmp_path / "cache"
    store = _store_of_one_title(tmp_path / "lz", cache)
    track = store.original("film_a")
    cache.mkdir()
    old = time.time() - CACHE_UNUSED_S - 60
    unused = {
        f"film_a-original-{'0' * 16}.wav",  # a version replaced long ago
        f".film_a-original-{'1' * 16}.wav.{'2' * 32}.part",  # a killed fetch's partial copy
        f"gone-fr-{'4' * 16}.flac",  # a title no longer in the landing zone
    }
    kept = {
        f"film_a-original-{'3' * 16}.wav",  # replaced, but a run used it lately
        f"film_a-fr-{'5' * 16}.flac",  # another track, used lately
        "notes.txt",  # not a copy: left alone however old
    }
    for name in unused | kept:
        (cache / name).write_bytes(b"x")
        os.utime(cache / name, (old, old))
    for name in kept - {"notes.txt"}:
        os.utime(cache / name)
    with store.local_path(track) as path:
        assert path.read_bytes()[:4] == bytes(range(4))
    assert {p.name for p in cache.iterdir()} == kept | {path.name}
