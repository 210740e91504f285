"""The training loop: `vitrine train`'s (Sources/Training/Trainer.swift, Sources/vitrine/Train.swift)
under torchrun / DistributedDataParallel.

Each step: every rank computes the same global batch (batches.Plan), takes its contiguous block,
reads captions and features, masks its samples from (seed, step, global index), runs forward and
backward (losses.compute: global denominators, gathered negatives), then DDP averages the gradients;
gradient-norm clipping at 1, AdamW (β 0.9/0.999, ε 1e-8, decoupled decay 0.01 on weights and
embeddings only), linear warm-up and decay. Rank 0 alone writes events and checkpoints.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone

import numpy as np
import torch
import torch.distributed as dist

from . import batches as Bt
from . import checkpoint as K
from . import config as C
from . import data as Data
from . import distributed as D
from . import evaluation as Ev
from . import flags as Fl
from . import losses as Lo
from . import safetensors_io as st
from .events import EventWriter
from .feature_source import FeatureError, FeatureSource
from .model import CaptureModel
from .safetext import terminal
from .tokenizers import load_tokenizer
from .weights import Weights, locate


class TrainingError(Exception):
    pass



def _absolute(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def _test_hook(ctx, step: int) -> None:
    """Test hooks (environment): VITRINE_SCALEOUT_FAIL_RANK=r and VITRINE_SCALEOUT_FAIL_STEP=k make rank
    r exit (status 3) at the start of step k; VITRINE_SCALEOUT_HANG=1 makes it hang there instead."""
    rank, at = os.environ.get("VITRINE_SCALEOUT_FAIL_RANK"), os.environ.get("VITRINE_SCALEOUT_FAIL_STEP")
    if rank is not None and at is not None and int(rank) == ctx.rank and int(at) == step:
        if os.environ.get("VITRINE_SCALEOUT_HANG") == "1":
            sys.stderr.write(f"rank {ctx.rank}: test hook: hanging at step {step}\n")
            sys.stderr.flush()
            while True:
                time.sleep(3600)
        sys.stderr.write(f"rank {ctx.rank}: test hook: exiting at step {step}\n")
        sys.stderr.flush()
        os._exit(3)


def _process_gone(pid: int) -> bool:
    """Whether process `pid` (on this host) has exited: no such process, or a zombie not yet reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state in (b"Z", b"X")
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
        except PermissionError:
            return False


class Run:
    def __init__(self, args):
        self.args = args
        self.ctx = D.setup(args.device, args.timeout)
        self.started = time.time()
        self.events = None
        self.cancel_requested = False
        self.progress_at = time.time()
        self.finished = False
        self.store = None

    # ------------------------------------------------------------------ setup

    def prepare(self) -> None:
        a, ctx = self.args, self.ctx
        self.weights = Weights(locate(a.weights))
        resume_model = None
        if a.resume:
            path = _absolute(a.resume)
            if os.path.isdir(path):
                resume_model = K.latest_checkpoint(path)
                if resume_model is None:
                    raise TrainingError(f"cannot resume from {path}: the folder has no complete checkpoint (no training.json)")
            else:
                resume_model = path
        self.resume_model = resume_model
        start_ckpt = resume_model or (_absolute(a.init_from) if a.init_from else None)
        tower = a.text_tower or "e5"
        recorded = None
        if start_ckpt:
            recorded, _ = K.read_metadata(start_ckpt)
            if a.text_tower and a.text_tower != recorded.text_tower:
                raise TrainingError(f"--text-tower {a.text_tower} does not match the checkpoint, whose text stream is "
                                    f"{recorded.text_tower}; leave --text-tower out to keep it")
            tower = recorded.text_tower
        self.tower = tower
        o = C.preset(a.preset, a.mode, tower)
        # A preset freezes all but the top layers of the tower's usual depth; a checkpoint with
        # another depth (a small configuration) keeps the same number of top layers trainable,
        # as `vitrine train` does.
        if recorded is not None and recorded.text_layers != C.TOWER_LAYERS[tower]:
            trainable_top = C.TOWER_LAYERS[tower] - o.frozen_text_layers
            o.frozen_text_layers = max(0, recorded.text_layers - trainable_top)
        o.seed = a.seed
        for attr, value in (("steps", a.steps), ("batch_size", a.batch), ("learning_rate", a.lr),
                            ("text_learning_rate_scale", a.text_lr_scale), ("frozen_text_layers", a.frozen_text_layers),
                            ("evaluation_interval", a.eval_every), ("patience", a.patience),
                            ("checkpoint_interval", a.checkpoint_every), ("keep_checkpoints", a.keep),
                            ("flag_rule", a.flag_rule), ("query_pair_share", a.query_pair_share), ("dropout", a.dropout)):
            if value is not None:
                setattr(o, attr, value)
        if a.query_pairs:
            o.query_pair_splits = list(a.query_pairs)
        if a.no_query_pairs:
            o.query_pair_splits = []
        if any(v is not None for v in (a.positive_margin, a.negative_margin, a.clr_weight, a.mlm_weight)):
            ob = o.objective
            o.objective = C.Objective(a.positive_margin if a.positive_margin is not None else ob.positive_margin,
                                      a.negative_margin if a.negative_margin is not None else ob.negative_margin,
                                      a.clr_weight if a.clr_weight is not None else ob.clr_weight,
                                      a.mlm_weight if a.mlm_weight is not None else ob.mlm_weight)
        self.options = o

        self.tokenizer = load_tokenizer(tower, self.weights.folder)
        if a.preset == "tiny":
            new_config = C.tiny_config(tower, self.tokenizer.vocabulary_rows)
        else:
            new_config = C.tower_config(tower, self.tokenizer.vocabulary_rows)
        if start_ckpt:
            new_config, _ = K.read_metadata(start_ckpt)
        self.config = new_config

        self.dataset = Data.load(a.data)
        mode = o.mode
        self.dev_name = None if a.no_eval else self._dev_split()
        names = []
        if mode == "pretrain":
            names += [s.name for s in self.dataset.splits_of("train")]
        if mode == "finetune" or not a.no_eval:
            names += [s.name for s in self.dataset.splits_of("gallery")]
            names += [s.name for s in self.dataset.splits_of("query")]
        self.corpus = Bt.Corpus(self.dataset, names, self.tokenizer, self.config.max_text_length)
        self.data_text = f"{self.dataset.name}: " + "+".join(names) + f", {len(self.corpus)} pairs"
        self.backbone_identity = self.weights.backbone_identity()
        self.tokenizer_identity = self.weights.tokenizer_identity(tower)

        # Flags.
        self.flag_pairs = []
        if mode == "finetune" and not a.no_flags:
            path = _absolute(a.flags) if a.flags else Fl.default_path()
            if a.flags or os.path.isfile(path):
                flags = Fl.read_flags(path, self.dataset.identity_key)
                usable = [f for f in flags if f.query in self.corpus.index and f.match in self.corpus.index
                          and f.query != f.match]
                self.flag_pairs = Fl.resolve_pairs(usable, o.flag_rule or "majority")
                self.ignored_flags = len(flags) - len(usable)

        # Model.
        if resume_model:
            self.model = CaptureModel(self.config, seed=a.seed)
        elif a.init_from:
            if a.preset == "tiny":
                raise TrainingError("--preset tiny trains a small model from random weights; it cannot start from "
                                    "--init-from (choose the sample, small or full preset)")
            self.model, _ = K.load_checkpoint(start_ckpt, self.weights, self.backbone_identity)
        else:
            self.model = CaptureModel(self.config, seed=a.seed)
            if a.preset != "tiny":
                self.model.load_text_tower(st.SafetensorsFile(self.weights.tower_path(tower)))
        o.validate(self.config)

        self.step = 0
        self.optimizer_steps = 0
        self.state = {"devMAP10Before": None, "lastDevMAP10": None, "bestMAP10": None, "bestStep": None,
                      "evaluationsWithoutImprovement": 0}
        saved_moments = None
        if resume_model:
            saved_moments = self._resume(resume_model)
        self.model.set_frozen_text_layers(self.options.frozen_text_layers)
        self.model.to(ctx.device)

        if self.options.batch_size < ctx.world and self.options.mode == "pretrain":
            raise TrainingError(f"the batch ({self.options.batch_size}) is smaller than the {ctx.world} ranks; "
                                "pass --batch at least the number of processes")
        self.plan = Bt.Plan(self.corpus, self.options, self.flag_pairs)
        if mode == "pretrain" and len(self.plan.pool) < 2:
            raise TrainingError(f"not enough training data: pretraining draws from the train split, which has "
                                f"{len(self.plan.pool)} usable pairs (caption + image); it needs at least 2")
        if mode == "finetune" and len(self.plan.label_groups) < 2 and not self.plan.flag_rows:
            raise TrainingError(f"not enough training data: fine-tuning needs gallery labels shared by at least 2 items "
                                f"for 2 or more labels, or flagged pairs; found {len(self.plan.label_groups)} such labels "
                                f"and {len(self.plan.flag_rows)} usable flags")

        # Optimiser: one group per (weight decay, learning-rate scale).
        scale = self.options.text_learning_rate_scale or 1.0
        groups: dict = {}
        self.names = {}
        for name, p in self.model.named_checkpoint_parameters():
            self.names[p] = name
            if not p.requires_grad:
                continue
            key = (self.model.decays(name), scale if name.startswith("text.") else 1.0)
            groups.setdefault(key, []).append(p)
        self.param_groups = [{"params": ps, "weight_decay": self.options.weight_decay if k[0] else 0.0,
                              "lr": 0.0, "scale": k[1]} for k, ps in sorted(groups.items())]
        self.optimizer = torch.optim.AdamW(self.param_groups, lr=0.0, betas=(0.9, 0.999), eps=1e-8, foreach=False)
        if saved_moments is not None:
            self._restore_moments(saved_moments)

        if ctx.distributed:
            # Which parameters a step reaches changes from step to step (a batch may choose no
            # region for MRM, or hold no pair for the robust loss), so DDP must look for unused
            # ones every step: neither find_unused_parameters=False nor static_graph=True runs.
            # torch then warns once per rank, on a step that happened to use them all.
            from torch.nn.parallel import DistributedDataParallel as DDP
            self.ddp = DDP(self.model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
                           find_unused_parameters=True)
        else:
            self.ddp = self.model

        self.features = FeatureSource(a.features, self.weights.folder, self.backbone_identity["sha256"], ctx.device,
                                      a.cache, self.dataset.root)
        self.omittable = None

        # Output folder and events (rank 0 only).
        if a.out:
            self.out = _absolute(a.out)
        elif a.resume:
            path = _absolute(a.resume)
            self.out = path if os.path.isdir(path) else os.path.dirname(path)
        else:
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
            if ctx.distributed:
                holder = [stamp]
                dist.broadcast_object_list(holder, src=0)
                stamp = holder[0]
            self.out = _absolute(f"vitrine-runs/{o.mode}-{stamp}")
        if ctx.is_main:
            try:
                os.makedirs(self.out, exist_ok=True)
            except OSError as error:
                raise TrainingError(f"cannot write checkpoint {self.out}: cannot create the folder ({error.strerror}); "
                                    "check the output folder's free space and permissions") from None
        self._heartbeat_setup()

    def _dev_split(self):
        a = self.args
        if a.dev_split:
            s = self.dataset.split(a.dev_split)
            if s is None or s.role != "query":
                raise TrainingError(f"--dev-split: {self.dataset.root} has no query split named {a.dev_split!r}")
            return a.dev_split
        s = self.dataset.split("dev")
        if s is not None and s.role == "query":
            return "dev"
        queries = self.dataset.splits_of("query")
        return queries[0].name if len(queries) == 1 else None

    def _resume(self, model_file: str):
        """Trainer.resume: the checkpoint's parameters, its state file's moments and trainer state."""
        config, f = K.read_metadata(model_file)
        step = int(f.metadata["step"])
        state_file = K.state_path(os.path.dirname(model_file), step)
        try:
            s = st.SafetensorsFile(state_file)
        except st.SafetensorsError as error:
            raise TrainingError(f"cannot resume from {model_file}: its trainer state {state_file} cannot be read ({error}); "
                                "a model file alone can start a new run (--init-from) but not continue one") from None
        try:
            saved = json.loads(s.metadata["trainer"])
            assert saved["format"] == K.TRAINER_FORMAT
            options = C.TrainingOptions.from_dict(saved["options"])
        except (KeyError, ValueError, AssertionError):
            raise TrainingError(f"cannot resume from {state_file}: it holds no {K.TRAINER_FORMAT} trainer state") from None
        if saved["step"] != step:
            raise TrainingError(f"cannot resume from {state_file}: its step {saved['step']} is not the model's {step}")
        if options.mode != self.options.mode:
            raise TrainingError(f"cannot resume from {model_file}: it is a {options.mode} run; pass --mode {options.mode}, "
                                "or start a new run from it with --init-from")
        K.load_checkpoint(model_file, self.weights, self.backbone_identity, into=self.model)
        current = self.options
        for attr in ("steps", "evaluation_interval", "patience", "checkpoint_interval", "keep_checkpoints", "throttle", "preset"):
            setattr(options, attr, getattr(current, attr))
        if options.steps < step:
            raise TrainingError(f"cannot resume from {model_file}: it is at step {step}, past the {options.steps} steps asked for; ask for more steps")
        self.options = options
        self.step = step
        self.optimizer_steps = int(saved["optimizerSteps"])
        for key in self.state:
            self.state[key] = saved.get(key, self.state[key])
        self.resumed_from = model_file
        return s

    def _restore_moments(self, s: st.SafetensorsFile) -> None:
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                name = self.names[p]
                if "m." + name not in s or "v." + name not in s:
                    if self.optimizer_steps > 0:
                        raise TrainingError(f"cannot resume from {s.path}: it has no optimiser moments for {name}, "
                                            "which this run trains (were other layers frozen?)")
                    continue
                self.optimizer.state[p] = {
                    "step": torch.tensor(float(self.optimizer_steps)),
                    "exp_avg": torch.from_numpy(s.tensor("m." + name, tuple(p.shape))).to(p.device),
                    "exp_avg_sq": torch.from_numpy(s.tensor("v." + name, tuple(p.shape))).to(p.device)}

    # ------------------------------------------------------------------ liveness

    def _heartbeat_setup(self) -> None:
        if not self.ctx.distributed:
            return
        try:
            from torch.distributed import distributed_c10d
            self.store = distributed_c10d._get_default_store()
            self.store.set(f"vitrine-scaleout/pid/{self.ctx.rank}", f"{socket.gethostname()} {os.getpid()}")
        except Exception:
            self.store = None

    def _heartbeat(self, step: int) -> None:
        if self.store is not None:
            try:
                self.store.set(f"vitrine-scaleout/step/{self.ctx.rank}", str(step))
            except Exception:
                pass

    def diagnose(self) -> str:
        """Which ranks are gone (a dead process on this host), or behind (their last step)."""
        if not self.ctx.distributed or self.store is None:
            return ""
        host = socket.gethostname()
        gone, behind, unknown = [], [], []
        for r in range(self.ctx.world):
            if r == self.ctx.rank:
                continue
            try:
                if not self.store.check([f"vitrine-scaleout/pid/{r}"]):
                    unknown.append(r)
                    continue
                where, pid = self.store.get(f"vitrine-scaleout/pid/{r}").decode().rsplit(" ", 1)
                if where == host and _process_gone(int(pid)):
                    gone.append(f"rank {r} (pid {pid} on {where}) has exited")
                    continue
                key = f"vitrine-scaleout/step/{r}"
                last = int(self.store.get(key).decode()) if self.store.check([key]) else 0
                if last < self.step:
                    behind.append(f"rank {r} (on {where}) last finished step {last}")
            except Exception:
                unknown.append(r)
        parts = gone + behind
        if unknown and not parts:
            parts.append("ranks " + ", ".join(map(str, unknown)) + " could not be asked")
        return "; ".join(parts)

    # ------------------------------------------------------------------ the loop

    def emit(self, name: str, **fields) -> None:
        if self.events is not None:
            self.events.emit(name, **fields)

    def run(self) -> int:
        a, ctx, o = self.args, self.ctx, self.options
        if ctx.is_main:
            self.events = EventWriter(os.path.join(self.out, "events.jsonl"), a.json, a.quiet)
            self.emit("started", mode=o.mode, preset=o.preset, totalSteps=o.steps, batchSize=o.batch_size,
                      startStep=self.step, seed=o.seed, dataset=self.data_text, outputDirectory=self.out,
                      flagPairs=len(self.flag_pairs))
            if getattr(self, "ignored_flags", 0):
                self.events.note(f"{self.ignored_flags} flag(s) name items outside this dataset's splits (or typed "
                                 "captions); not used")
        self._install_signals()
        outcome = "completed"
        start_step = self.step
        recent = []
        resumed = self.resume_model is not None
        evaluate = self.dev_name is not None
        if evaluate and not resumed and self.step == 0:
            value = self.evaluate()
            self.state["devMAP10Before"] = value
            self.record_evaluation(value)
        while self.step < o.steps:
            if self._agreed_cancel():
                outcome = "cancelled"
                break
            t0 = time.time()
            next_step = self.step + 1
            _test_hook(ctx, next_step)
            report, rows = self.train_step(next_step)
            self.step = next_step
            self.optimizer_steps += 1
            self.progress_at = time.time()
            self._heartbeat(self.step)
            recent.append((rows, time.time() - t0))
            recent = recent[-20:]
            seconds = sum(r[1] for r in recent)
            self.emit("step", step=self.step, totalSteps=o.steps, losses=report,
                      learningRate=C.learning_rate(o, self.step),
                      samplesPerSecond=(sum(r[0] for r in recent) / seconds) if seconds > 0 else 0.0,
                      etaSeconds=(seconds / len(recent)) * (o.steps - self.step))
            if not all(np.isfinite(v) for v in report.values()):
                raise TrainingError(f"invalid training options: the loss is not finite at step {self.step} ({report}); "
                                    f"lower the learning rate (now {o.learning_rate})")
            improved = stop = False
            last = self.step == o.steps
            if evaluate and ((o.evaluation_interval > 0 and self.step % o.evaluation_interval == 0) or last):
                improved = self.record_evaluation(self.evaluate())
                if not improved and o.patience > 0 and self.state["evaluationsWithoutImprovement"] >= o.patience and not last:
                    stop = True
            cancelled = self._agreed_cancel()
            if cancelled:
                outcome = "cancelled"
            elif stop:
                outcome = "early-stopped"
            if improved or last or stop or cancelled or self.step % o.checkpoint_interval == 0:
                self.save_checkpoint(improved)
            if outcome != "completed":
                break
        if outcome == "cancelled" and self.step > start_step:
            m = K.read_manifest(self.out) if ctx.is_main else None
            if ctx.is_main and (m is None or m.get("latestStep") != self.step):
                self.save_checkpoint(False)
        dump = os.environ.get("VITRINE_SCALEOUT_DUMP_PARAMS")
        if dump:  # test hook: every rank writes its parameters (rank<r>.safetensors) to compare ranks
            os.makedirs(dump, exist_ok=True)
            st.write(os.path.join(dump, f"rank{ctx.rank}.safetensors"),
                     {n: p.detach().cpu().numpy() for n, p in self.model.named_checkpoint_parameters()})
        self.finish(outcome)
        return 0

    def finish(self, outcome: str) -> None:
        checkpoint, after = None, self.state["lastDevMAP10"]
        if self.ctx.is_main:
            m = K.read_manifest(self.out)
            if m is not None:
                best = os.path.join(self.out, "best.safetensors")
                if m.get("bestStep") is not None and os.path.exists(best):
                    checkpoint = best
                    after = m.get("bestMAP10", after)
                else:
                    checkpoint = os.path.join(self.out, "latest.safetensors")
        fields = dict(outcome=outcome, steps=self.step, wallSeconds=time.time() - self.started)
        if self.state["devMAP10Before"] is not None:
            fields["devMAP10Before"] = self.state["devMAP10Before"]
        if after is not None:
            fields["devMAP10After"] = after
        if checkpoint is not None:
            fields["checkpoint"] = checkpoint
        self.emit("finished", **fields)
        self.finished = True

    def fail(self, message: str) -> None:
        if self.ctx.is_main and self.events is not None:
            self.emit("failed", message=message)
        elif not self.ctx.is_main:
            sys.stderr.write(f"rank {self.ctx.rank}: training failed: {terminal(message)}\n")
        self.finished = True

    def _install_signals(self) -> None:
        def handler(signum, frame):
            self.cancel_requested = True
            self.progress_at = time.time()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, handler)
        grace = float(os.environ.get("VITRINE_SCALEOUT_SIGNAL_GRACE", str(min(10.0, self.args.timeout))))

        def watchdog():
            while not self.finished:
                time.sleep(0.5)
                if self.cancel_requested and not self.finished and time.time() - self.progress_at > grace:
                    lost = self.diagnose()
                    self.fail("stopped by a signal (torchrun stops every worker when one fails) while step "
                              f"{self.step + 1} waited on other ranks" + (f": {lost}" if lost else "")
                              + "; the last checkpoint in " + self.out + " is intact: continue with --resume " + self.out)
                    os._exit(1)
        threading.Thread(target=watchdog, daemon=True).start()

    def _agreed_cancel(self) -> bool:
        flag = 1 if self.cancel_requested else 0
        if self.ctx.distributed:
            flag = D.all_reduce_max_int(self.ctx, flag)
        return flag > 0

    # ------------------------------------------------------------------ one step

    def masking(self):
        o = self.options
        if o.mode == "pretrain":
            return 0.15, 0.15
        return (0.15 if o.objective.mlm_weight != 0 else 0.0), 0.0

    def read_step(self, step: int):
        """The CPU side of a step, without collectives (run ahead on the prefetch thread): this rank's
        rows of the global batch, their features read, captions tokenised and masked."""
        ctx = self.ctx
        rows, pairs = self.plan.rows(step)
        if len(rows) < ctx.world:
            raise TrainingError(f"step {step} has {len(rows)} rows for {ctx.world} ranks; use fewer processes or a larger --batch")
        sizes = Bt.shard_sizes(len(rows), ctx.world)
        offset = sum(sizes[:ctx.rank])
        mine = list(range(offset, offset + sizes[ctx.rank]))
        cells = self.features.cells([self.corpus.sample(rows[g]).image for g in mine])
        text_p, region_p = self.masking()
        samples = []
        for k, g in enumerate(mine):
            rng = Bt.sample_rng(self.options.seed, step, g, Bt.STREAM_MASK)
            samples.append(Bt.mask_sample(self.corpus.tokens(rows[g]), cells[k], rng, self.tokenizer.special_rows,
                                          self.config.vocab_size, text_p, region_p))
        return rows, pairs, sizes, mine, samples

    def local_batch(self, step: int):
        """This rank's collated batch of `step` (read ahead during the previous step when possible)."""
        ctx = self.ctx
        pending, self._prefetch = getattr(self, "_prefetch", None), None
        if pending is not None and pending[0] == step:
            rows, pairs, sizes, mine, samples = pending[1].result()
        else:
            rows, pairs, sizes, mine, samples = self.read_step(step)
        if step < self.options.steps:
            if not hasattr(self, "_pool"):
                from concurrent.futures import ThreadPoolExecutor
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="vitrine-prefetch")
            self._prefetch = (step + 1, self._pool.submit(self.read_step, step + 1))
        length = max(len(s.ids) for s in samples)
        if ctx.distributed:
            length = D.all_reduce_max_int(ctx, length)   # the padding one process would use
        return Bt.collate(samples, length, self.tokenizer.pad_row, ctx.device, sizes, pairs), mine, len(rows)

    def train_step(self, step: int):
        o, ctx = self.options, self.ctx
        if o.mode == "pretrain":
            w = Lo.Weights(1.0, 1.0, 1.0, 0.0)
        else:
            w = Lo.Weights(o.objective.mlm_weight, 0.0, o.objective.clr_weight, 1.0,
                           o.objective.positive_margin, o.objective.negative_margin)
        batch, mine, count = self.local_batch(step)
        self.model.train()
        if o.dropout > 0:
            gens = [torch.Generator(device=ctx.device).manual_seed(Bt.sample_seed(o.seed, step, g, Bt.STREAM_DROPOUT))
                    for g in mine]
            self.model.set_dropout(o.dropout, gens)
        else:
            self.model.set_dropout(0.0, None)
        self.optimizer.zero_grad(set_to_none=True)
        loss, report = Lo.compute(self.ddp, batch, w, ctx, o.mode, self.args.gather)
        loss.backward()
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if o.max_gradient_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, o.max_gradient_norm)
        lr = C.learning_rate(o, step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["scale"]
        self.optimizer.step()
        return report, count

    # ------------------------------------------------------------------ evaluation

    def evaluate(self) -> float:
        """Dev mAP@10 of the fused embeddings; the embeddings are computed in shards over the ranks."""
        ctx, o = self.ctx, self.options
        gallery = self.corpus.positions("gallery")
        held = o.mode == "finetune" and self.dev_name in o.query_pair_splits
        queries = [p for p in self.corpus.positions_of_split(self.dev_name) if self.corpus.role(p) == "query"
                   and not (held and o.is_pair_query(self.corpus.sample(p).id))]
        wanted = gallery + queries
        mine = wanted[ctx.rank::ctx.world]
        vectors = {}
        for start in range(0, len(mine), 32):
            part = mine[start:start + 32]
            toks = [self.corpus.tokens(p) for p in part]
            L = max(len(t) for t in toks)
            ids = torch.full((len(part), L), self.tokenizer.pad_row, dtype=torch.long)
            mask = torch.zeros((len(part), L), dtype=torch.long)
            for i, t in enumerate(toks):
                ids[i, :len(t)] = torch.tensor(t)
                mask[i, :len(t)] = 1
            cells = torch.from_numpy(self.features.cells([self.corpus.sample(p).image for p in part]))
            _, _, e = self.model.embed(ids.to(ctx.device), mask.to(ctx.device), cells.to(ctx.device))
            for p, v in zip(part, e.cpu().numpy()):
                vectors[p] = v
        if ctx.distributed:
            everything = [None] * ctx.world
            dist.all_gather_object(everything, vectors)
            vectors = {k: v for d in everything for k, v in d.items()}
        value = 0.0
        if ctx.is_main and gallery and queries:
            g_ids = [self.corpus.sample(p).id for p in gallery]
            q_ids = [self.corpus.sample(p).id for p in queries]
            rankings = Ev.rank(g_ids, np.stack([vectors[p] for p in gallery]), q_ids, np.stack([vectors[p] for p in queries]))
            value = Ev.map_at(rankings, Ev.ground_truth(self.dataset), 10)
        if ctx.distributed:
            value = D.all_reduce_sum(ctx, [value])[0]
        return value

    def record_evaluation(self, value: float) -> bool:
        s = self.state
        s["lastDevMAP10"] = value
        improved = s["bestMAP10"] is None or value > s["bestMAP10"] + 1e-12
        if improved:
            s["bestMAP10"], s["bestStep"], s["evaluationsWithoutImprovement"] = value, self.step, 0
        else:
            s["evaluationsWithoutImprovement"] += 1
        self.emit("evaluation", step=self.step, devMAP10=value, bestMAP10=s["bestMAP10"], improved=improved)
        if improved and self.step == 0:
            self.save_checkpoint(True)
        return improved

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(self, is_best: bool) -> None:
        if not self.ctx.is_main:
            return
        step = self.step
        if self.omittable is None:
            tower_file = None if self.options.preset == "tiny" else self.weights.tower_path(self.config.text_tower)
            self.omittable = K.omittable_frozen(self.model, tower_file)
            self.frozen_source = self.weights.tower_identity(self.config.text_tower)
        path, spath = K.model_path(self.out, step), K.state_path(self.out, step)
        meta = K.checkpoint_metadata(self.config, self.tokenizer_identity, self.backbone_identity, step, self.data_text,
                                     self.frozen_source, self.omittable)
        try:
            K.save_model(self.model, path, meta, tuple(self.omittable))
        except (OSError, st.SafetensorsError) as error:
            raise TrainingError(f"cannot write checkpoint {path}: {error}; check the output folder's free space and permissions") from None
        tensors = {}
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                name = self.names[p]
                state = self.optimizer.state.get(p, {})
                tensors["m." + name] = (state["exp_avg"] if "exp_avg" in state else torch.zeros_like(p)).detach().cpu().numpy()
                tensors["v." + name] = (state["exp_avg_sq"] if "exp_avg_sq" in state else torch.zeros_like(p)).detach().cpu().numpy()
        trainer = {"format": K.TRAINER_FORMAT, "step": step, "optimizerSteps": self.optimizer_steps,
                   "options": self.options.to_dict(), "evaluationsWithoutImprovement": self.state["evaluationsWithoutImprovement"],
                   "exampleCount": len(self.corpus)}
        for key in ("devMAP10Before", "lastDevMAP10", "bestMAP10", "bestStep"):
            if self.state[key] is not None:
                trainer[key] = self.state[key]
        extra = {"worldSize": self.ctx.world, "backend": "nccl" if self.ctx.device.type == "cuda" else ("gloo" if self.ctx.distributed else "none"),
                 "features": self.args.features, "gather": self.args.gather}
        try:
            st.write(spath, tensors, {"format": K.TRAINER_FORMAT, "trainer": C.swift_json(trainer),
                                      "scaleout": C.swift_json(extra)})
        except (OSError, st.SafetensorsError) as error:
            raise TrainingError(f"cannot write checkpoint {spath}: {error}; check the output folder's free space and permissions") from None
        K.commit(self.out, step, is_best, self.state["bestMAP10"], self.options.keep_checkpoints)
        self.emit("checkpoint", step=step, path=path)


def train(args) -> int:
    run = None
    try:
        run = Run(args)
    except Exception as error:  # process group could not start
        sys.stderr.write(f"vitrine-scaleout train: {terminal(str(error))}\n")
        return 1
    try:
        run.prepare()
    except Exception as error:
        msg = str(error) if isinstance(error, (TrainingError, Data.DatasetError, K.CheckpointError, Fl.FlagsError,
                                               ValueError, st.SafetensorsError)) else f"{type(error).__name__}: {error}"
        if run.ctx.is_main and getattr(run, "out", None) and os.path.isdir(run.out):
            run.events = EventWriter(os.path.join(run.out, "events.jsonl"), args.json, args.quiet)
            run.fail(msg)
        else:
            sys.stderr.write(f"vitrine-scaleout train: {terminal(msg)}\n")
        D.teardown(run.ctx)
        return 1
    try:
        code = run.run()
    except Exception as error:
        lost = run.diagnose() if run.ctx.distributed else ""
        if isinstance(error, (TrainingError, FeatureError)):
            message = str(error)
        elif run.ctx.distributed and isinstance(error, (RuntimeError, dist.DistBackendError if hasattr(dist, "DistBackendError") else RuntimeError)):
            message = ((f"lost a rank during step {run.step + 1}: {lost}" if lost else
                        f"rank {run.ctx.rank} lost contact with the other ranks during step {run.step + 1}") + f" ({type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}); "
                       f"the process group's timeout is {args.timeout:g} s (--timeout). The last checkpoint in {run.out} "
                       f"is intact: fix the lost node or process and continue with --resume {run.out}")
        else:
            message = f"{type(error).__name__}: {error}"
        run.fail(message)
        if run.events is not None:
            run.events.close()
        os._exit(1)  # a broken process group cannot be torn down cleanly
    if run.events is not None:
        run.events.close()
    D.teardown(run.ctx)
    return code
