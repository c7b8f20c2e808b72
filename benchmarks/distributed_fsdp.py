"""Replicated versus FSDP-split train state for the digits UNet at two widths, on 8 CPU devices.

    python -m benchmarks.distributed_fsdp                    # writes benchmarks/results/distributed_fsdp.json
    python -m benchmarks.distributed_fsdp --widths 32,64 --rounds 7 --calls 3

Work per call: one dispatch of 2 DDPM train steps (UNet channels W, channel_mult (1, 2), two
residual blocks per level, attention at 4x4, batch 64, adam) on scikit-learn digits as 8x8x1 images
(``--config.data.options.image=True``), one process with 8 forced CPU devices. ``replicated``:
``sharding.fsdp=1``; ``fsdp8``: ``sharding.fsdp=8`` with the default ``sharding.min_size``
(2**14 elements), so the large kernels, their adam moments and EMA lie 1/8 on each device and
XLA gathers them per layer. Both sides of a width are compiled first, then timed in interleaved
blocks (benchmarks/harness.py). Memory per device is XLA's memory analysis of each compiled
dispatch and the state's bytes per device. On CPU the 8 devices share one memory and two cores:
the memory numbers are what an accelerator would hold; the times show the cost of the gathers.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")

import argparse  # noqa: E402

import jax  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.harness import compare, report  # noqa: E402


def unet_config(width: int, fsdp: int) -> ml_collections.ConfigDict:
    from genjax.config import default_config

    c = default_config()
    c.data.name = "digits"
    c.data.options = ml_collections.ConfigDict({"image": True})
    c.data.batch_size = 64
    c.model = ml_collections.ConfigDict({"name": "ddpm", "net": "unet", "channels": width, "channel_mult": (1, 2),
                                         "num_res_blocks": 2, "attention_levels": (1,), "conditional": True})
    c.train.steps_per_dispatch = 2
    c.train.lr = 2e-4
    c.sharding.fsdp = fsdp
    return c


def main(argv=None) -> None:
    from genjax import train

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--widths", default="32,64")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=3)
    args = p.parse_args(argv)
    if jax.device_count() != 8:
        raise SystemExit(f"needs 8 devices, found {jax.device_count()} (XLA_FLAGS={os.environ.get('XLA_FLAGS')!r})")
    results, memory = {}, {}
    for width in (int(w) for w in args.widths.split(",")):
        sides, mem, boxes = {}, {}, {}
        for name, fsdp in (("fsdp8", 8), ("replicated", 1)):
            trainer = train.Trainer.from_config(unet_config(width, fsdp))
            n = trainer.config.train.steps_per_dispatch
            box = boxes[name] = [trainer.init()]

            def step(trainer=trainer, box=box, n=n):
                box[0], _ = trainer.run(box[0], 0, n)
                jax.block_until_ready(box[0])

            sides[name] = step
            state_bytes = trainer.state_memory()
            split = sum(leaf.size for leaf, sh in zip(jax.tree_util.tree_leaves(box[0].params),
                                                      jax.tree_util.tree_leaves(trainer.state_sharding.params))
                        if not sh.is_fully_replicated)
            total = sum(leaf.size for leaf in jax.tree_util.tree_leaves(box[0].params))
            mem[name] = {**trainer.step_memory(box[0], n), "state_total": state_bytes["total"],
                         "params": total, "params_split": split}
        label = f"digits UNet, channels {width}"
        results[label] = compare(sides, calls_per_block=args.calls, rounds=args.rounds, baseline="replicated")
        # Both sides ran the same steps from the same initial state: their parameters must agree.
        mem["max_param_diff"] = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(
            jax.tree_util.tree_leaves(boxes["fsdp8"][0].params), jax.tree_util.tree_leaves(boxes["replicated"][0].params)))
        mem["steps"] = int(boxes["fsdp8"][0].step)
        memory[label] = mem
    work = ("one dispatch of 2 DDPM steps of the digits UNet (8x8x1, channel_mult (1, 2), 2 res blocks per level, "
            "attention at 4x4, class-conditional), batch 64, adam, 8 CPU devices in one process")
    report("distributed_fsdp", results, work=work, extra={"memory_per_device": memory})
    print("\nmemory per device (MiB; XLA memory analysis of the compiled dispatch) and parameters split:")
    for label, mem in memory.items():
        print(f"  {label}: {mem.pop('steps')} steps on each side, max |params(fsdp8) - params(replicated)| = "
              f"{mem.pop('max_param_diff'):.2e}")
        for name, m in mem.items():
            print(f"  {label:<26} {name:<10} state {m['state'] / 2**20:7.2f} of {m['state_total'] / 2**20:7.2f}  "
                  f"arguments {m['arguments'] / 2**20:7.2f}  temp {m['temp'] / 2**20:7.2f}  "
                  f"params split {m['params_split']}/{m['params']}")


if __name__ == "__main__":
    main()
