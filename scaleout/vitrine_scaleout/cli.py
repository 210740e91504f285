"""`python -m vitrine_scaleout COMMAND` (or `torchrun ... -m vitrine_scaleout train ...`).

  train       pretrain or fine-tune, single process or under torchrun (DistributedDataParallel)
  embed       tokens, z_t, z_v, e of a caption and/or an image from a checkpoint, as JSON
  probe       one forward/backward on a fixed batch file (dropout off): losses and gradients
  make-batch  write such a batch file from a dataset
"""

from __future__ import annotations

import argparse
import sys


def _float_or_none(text):
    return float(text)


def train_parser(sub) -> None:
    p = sub.add_parser("train", help="pretrain (MLM + MRM + CLR) or fine-tune (robust contrastive + CLR + MLM)",
                       description="The PyTorch twin of `vitrine train`. Run it under torchrun for several processes: "
                                   "torchrun --nproc_per_node=N -m vitrine_scaleout train --data DIR ...")
    p.add_argument("--preset", choices=["sample", "small", "full", "tiny"], default="sample")
    p.add_argument("--mode", choices=["finetune", "pretrain"], default="finetune")
    p.add_argument("--data", default="SampleData", help="dataset folder (Product1M layout or captions.tsv/.jsonl)")
    p.add_argument("--out", help="run folder (default: the --resume folder, else ./vitrine-runs/<mode>-<time>)")
    p.add_argument("--resume", metavar="RUN", help="continue a run: its folder or one of its model files")
    p.add_argument("--init-from", metavar="CKPT", help="start a new run from this checkpoint's parameters")
    p.add_argument("--text-tower", choices=["e5", "minilm"], help="text tower of a new model (default e5)")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch", type=int, help="global batch: pairs per step over all processes")
    p.add_argument("--lr", type=float)
    p.add_argument("--text-lr-scale", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frozen-text-layers", type=int)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--patience", type=int)
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--keep", type=int)
    p.add_argument("--flag-rule", choices=["majority", "latest", "exclude"])
    p.add_argument("--positive-margin", type=float)
    p.add_argument("--negative-margin", type=float)
    p.add_argument("--clr-weight", type=float)
    p.add_argument("--mlm-weight", type=float)
    p.add_argument("--query-pairs", action="append", default=[], metavar="SPLIT")
    p.add_argument("--no-query-pairs", action="store_true")
    p.add_argument("--query-pair-share", type=float)
    p.add_argument("--flags", metavar="STORE", help="the annotators' flags store (flags.sqlite); default: Vitrine's default store when it exists")
    p.add_argument("--no-flags", action="store_true")
    p.add_argument("--dev-split", metavar="SPLIT")
    p.add_argument("--no-eval", action="store_true", help="no dev evaluation")
    p.add_argument("--json", action="store_true", help="events as JSON lines on stdout (they always go to RUN/events.jsonl)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    # The twin's own options.
    p.add_argument("--features", choices=["cache", "compute"], default="cache",
                   help="backbone features from Vitrine's feature cache (default) or computed on the device")
    p.add_argument("--cache", metavar="DIR", help="Vitrine's cache folder (default $VITRINE_CACHE, $XDG_CACHE_HOME/vitrine, ~/.cache/vitrine)")
    p.add_argument("--weights", metavar="DIR", help="Vitrine's weights folder (default $VITRINE_WEIGHTS, else the checkout's Weights/)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="process-group timeout: a rank that stops answering fails the run after this long")
    p.add_argument("--dropout", type=float, help=argparse.SUPPRESS)
    p.add_argument("--gather", choices=["grad", "nograd", "none"], default="grad", help=argparse.SUPPRESS)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "plan":  # its own parser (vitrine_scaleout/plan.py)
        from .plan import main as plan_main
        return plan_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m vitrine_scaleout", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train_parser(sub)
    sub.add_parser("plan", add_help=False,
                   help="a run at Product1M's size on paper: steps an epoch, FLOPs a step, time a step per GPU, the feature cache on disk")

    e = sub.add_parser("embed", help="z_t, z_v and e of a caption and/or an image, as JSON")
    e.add_argument("--model", required=True, metavar="CKPT")
    e.add_argument("--caption")
    e.add_argument("--image", metavar="PATH")
    e.add_argument("--features", choices=["cache", "compute"], default="compute")
    e.add_argument("--cache", metavar="DIR")
    e.add_argument("--weights", metavar="DIR")
    e.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    e.add_argument("--json", action="store_true", help="JSON output (the only format)")

    pr = sub.add_parser("probe", help="one forward/backward (dropout off) on a batch file: losses and gradients")
    pr.add_argument("--model", required=True, metavar="CKPT")
    pr.add_argument("--batch", required=True, metavar="BATCH.safetensors")
    pr.add_argument("--out", required=True, metavar="GRADS.safetensors")
    pr.add_argument("--weights", metavar="DIR")
    pr.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")

    mb = sub.add_parser("make-batch", help="write a probe batch file from a dataset")
    mb.add_argument("--data", default="SampleData")
    mb.add_argument("--model", required=True, metavar="CKPT")
    mb.add_argument("--mode", choices=["pretrain", "finetune"], default="pretrain")
    mb.add_argument("--batch-size", type=int, default=4)
    mb.add_argument("--seed", type=int, default=0)
    mb.add_argument("--step", type=int, default=1)
    mb.add_argument("--out", required=True)
    mb.add_argument("--features", choices=["cache", "compute"], default="cache")
    mb.add_argument("--cache", metavar="DIR")
    mb.add_argument("--weights", metavar="DIR")
    mb.add_argument("--mlm-weight", type=float, default=None)
    mb.add_argument("--clr-weight", type=float, default=None)
    mb.add_argument("--positive-margin", type=float, default=None)
    mb.add_argument("--negative-margin", type=float, default=None)

    args = parser.parse_args(argv)
    if args.command == "train":
        if not (1 <= args.timeout <= 86400):
            parser.error(f"--timeout must be 1 to 86,400 seconds (got {args.timeout:g})")
        if args.resume and args.init_from:
            parser.error("--resume continues a run; --init-from starts a new one: give one")
        if args.flags and args.no_flags:
            parser.error("--flags and --no-flags do not go together")
        if args.mode == "pretrain":
            for option, given in (("--positive-margin", args.positive_margin), ("--negative-margin", args.negative_margin),
                                  ("--clr-weight", args.clr_weight), ("--mlm-weight", args.mlm_weight),
                                  ("--query-pair-share", args.query_pair_share), ("--flags", args.flags),
                                  ("--flag-rule", args.flag_rule)):
                if given is not None:
                    parser.error(f"{option} is a fine-tuning option; pretraining (--mode pretrain) does not use it")
        if args.no_eval:
            for option, given in (("--eval-every", args.eval_every), ("--patience", args.patience), ("--dev-split", args.dev_split)):
                if given is not None:
                    parser.error(f"{option} sets the dev evaluation; with --no-eval there is none")
        from .trainer import train
        return train(args)
    if args.command == "embed":
        from .probe import embed
        return embed(args)
    if args.command == "probe":
        from .probe import probe
        return probe(args)
    if args.command == "make-batch":
        from .probe import make_batch
        return make_batch(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
