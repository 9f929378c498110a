"""Write the seed corpus of each fuzz target from the known-answer vectors:
python3 fuzz/seeds.py (from the repository). Every seed is a real object, so the fuzzer starts
past the envelope header."""
import json, os, pathlib

here = pathlib.Path(__file__).parent
v = json.load(open(here.parent / "testdata" / "vectors.json"))
b = bytes.fromhex

def put(target, name, data):
    d = here / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)

put("version", "v1", b(v["version"]["stored"]))
put("version", "v2", b(v["epoch1"]["version"]["stored"]))
for name, p in [("genesis", v["policy"]["stored"]), ("next", v["policy_next"]["stored"]),
                ("epoch1", v["epoch1"]["policy"]["stored"])]:
    put("policy", name, b(p))
for c in v["chain_rejects"]:
    side = c.get("next") or c.get("genesis")
    put("policy", c["name"], b(side["stored"]))
put("tree", "root", b(v["tree"]["encoded"]))
put("tree", "sub", b(v["tree"]["sub_encoded"]))
put("tree", "root1", b(v["epoch1"]["root"]["encoded"]))
put("pack", "chunks", b(v["pack"]["bytes"]))
put("pack", "trees", b(v["pack"]["tree_bytes"]))
put("claim", "claim", b(v["claim"]["stored"]))
put("identity", "plain", b(v["identity_file"]))
put("identity", "locked", b(v["identity_locked"]["stored"]))
put("public_identity", "good", v["public_identity"].encode())
for r in v["public_identity_rejects"]:
    put("public_identity", r["name"], r["string"].encode())
for r in v["rejects"]:
    kind = {"version": "version", "policy": "policy", "pack": "pack", "tree": "tree",
            "identity": "identity"}[r["kind"]]
    put(kind, r["name"], b(r["bytes"]))
put("envelope", "tree", b(v["tree"]["encoded"]))
# tree_walk: the root, then its subtree, separated by 0xff.
put("tree_walk", "root_and_sub", b(v["tree"]["encoded"]) + b"\xff" + b(v["tree"]["sub_encoded"]))
