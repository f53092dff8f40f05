"""The trainers: sentence-transformers' ``CrossEncoderTrainer`` (BCE on soft labels) and
``SentenceTransformerTrainer`` (MultipleNegativesRankingLoss); there is no hand-written training loop.
Around them: fixed seeds, a wall-time budget (callback + a linear schedule re-fitted to the budget),
an AdamW optimizer with separate learning rates for the encoder and the head, and layer freezing
(frozen tensors stay bit-identical, so ``ragcompare.models.pack`` ships only the trained ones)."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers import set_seed as hf_set_seed

from ragcompare.data.beir import Dataset
from ragcompare.settings import train_device
from ragcompare.train.data import contrastive_rows
from ragcompare.types import InvalidInputError

logger = logging.getLogger(__name__)


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (via transformers.set_seed)."""
    random.seed(seed)
    np.random.seed(seed)
    hf_set_seed(seed)


def loss_curve(log_history: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """Training-loss points ``[{"step", "epoch", "loss"}]`` from a trainer's log history."""
    return [{"step": float(h["step"]), "epoch": float(h.get("epoch", float("nan"))),
             "loss": float(h["loss"])} for h in log_history if "loss" in h and "step" in h]


# --------------------------------------------------------------------------------------------
# Wall-time budget
# --------------------------------------------------------------------------------------------


class BudgetLinearSchedule:
    """Linear warm-up/decay whose horizon (``total``) can be re-estimated during training.

    Used with :class:`WallTimeBudgetCallback`, the decay is stretched or shrunk so that it ends
    when the wall-time budget runs out (at most at the planned step count).
    """

    def __init__(self, planned_steps: int, warmup_steps: int) -> None:
        self.planned = max(1, planned_steps)
        self.total = self.planned
        self.warmup = warmup_steps

    def __call__(self, step: int) -> float:
        """LR multiplier at ``step``."""
        if step < self.warmup:
            return (step + 1) / max(1, self.warmup)
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))


class WallTimeBudgetCallback(TrainerCallback):
    """Stop training once ``budget_s`` seconds of wall time have passed since ``on_train_begin``.

    With a :class:`BudgetLinearSchedule`, the schedule's horizon is re-estimated from the
    measured seconds per step (every step after ``calibrate_after``) so the LR reaches zero at
    the budget; training then stops at that horizon.
    """

    def __init__(self, budget_s: float, schedule: BudgetLinearSchedule | None = None,
                 calibrate_after: int = 10) -> None:
        self.budget_s = float(budget_s)
        self.schedule = schedule
        self.calibrate_after = calibrate_after
        self.start: float | None = None
        self.stopped_early = False
        self.elapsed_s = 0.0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Start the clock."""
        self.start = time.monotonic()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Re-estimate the schedule horizon; ask the trainer to stop once the budget is spent."""
        if self.start is None:
            self.start = time.monotonic()
        self.elapsed_s = time.monotonic() - self.start
        step = state.global_step
        sch = self.schedule
        if sch is not None and step >= self.calibrate_after and step < sch.total:
            per_step = self.elapsed_s / step
            est = step + int((self.budget_s - self.elapsed_s) / per_step)
            sch.total = max(step + 1, min(sch.planned, est))
        over_budget = self.elapsed_s >= self.budget_s
        at_horizon = sch is not None and step >= sch.total and sch.total < sch.planned
        if (over_budget or at_horizon) and not control.should_training_stop:
            logger.warning("wall-time budget %.0fs: stopping at step %d (%.0fs elapsed)",
                           self.budget_s, step, self.elapsed_s)
            self.stopped_early = True
            control.should_training_stop = True
            control.should_save = False


# --------------------------------------------------------------------------------------------
# Model construction
# --------------------------------------------------------------------------------------------


def init_cross_encoder(model_path: str | Path, max_length: int = 256, revive_pooler: bool = True,
                       device: str | None = None) -> Any:
    """Build a 1-label CrossEncoder from a BERT folder (on ``device``, default: the training device).

    With ``revive_pooler`` the BERT pooler is reset to identity weight / zero bias: the
    all-MiniLM-L6-v2 pooler is nearly dead (it was trained with mean pooling), which keeps a fresh
    classification head from learning.
    """
    from sentence_transformers.cross_encoder import CrossEncoder

    model = CrossEncoder(str(model_path), num_labels=1, max_length=max_length,
                         device=device or train_device(), local_files_only=True)
    if revive_pooler:
        dense = model.model.base_model.pooler.dense
        with torch.no_grad():
            dense.weight.copy_(torch.eye(dense.weight.shape[0]))
            dense.bias.zero_()
    return model


def freeze_layers(model: Any, n_frozen_layers: int = 0) -> list[str]:
    """Freeze the embeddings (always) and the first ``n_frozen_layers`` encoder layers.

    Frozen tensors stay bit-identical to the initial weights, which lets ``model_pack`` ship only
    the trained ones. Returns the frozen parameter names.
    """
    base = model.model.base_model
    if not 0 <= n_frozen_layers <= len(base.encoder.layer):
        raise InvalidInputError(f"frozen layers must be in 0..{len(base.encoder.layer)}, "
                                f"got {n_frozen_layers}")
    frozen: list[str] = []
    for name, p in base.embeddings.named_parameters():
        p.requires_grad_(False)
        frozen.append(f"embeddings.{name}")
    for i in range(n_frozen_layers):
        for name, p in base.encoder.layer[i].named_parameters():
            p.requires_grad_(False)
            frozen.append(f"encoder.layer.{i}.{name}")
    return frozen


def make_optimizer(
    model: Any, lr_body: float, lr_head: float, total_steps: int, warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR, BudgetLinearSchedule]:
    """AdamW with two groups (encoder vs pooler+classifier) and linear warm-up/decay."""
    head, body = [], []
    for name, p in model.model.named_parameters():
        if not p.requires_grad:
            continue
        (head if ("pooler" in name or "classifier" in name) else body).append(p)
    opt = torch.optim.AdamW([{"params": body, "lr": lr_body}, {"params": head, "lr": lr_head}],
                            weight_decay=weight_decay)
    schedule = BudgetLinearSchedule(total_steps, int(warmup_ratio * total_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    return opt, sched, schedule


def pairs_to_dataset(pairs: Sequence[tuple[str, str, float]]) -> Any:
    """Turn (text1, text2, label) tuples into a ``datasets.Dataset``."""
    from datasets import Dataset as HFDataset

    return HFDataset.from_dict({"sentence1": [p[0] for p in pairs], "sentence2": [p[1] for p in pairs],
                                "label": [float(p[2]) for p in pairs]})


# --------------------------------------------------------------------------------------------
# Training runs
# --------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What a training run did."""

    steps: int
    planned_steps: int
    epochs_done: float
    train_pairs: int
    wall_time_s: float
    stopped_by_budget: bool
    log_history: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (log history kept short)."""
        return {
            "steps": self.steps,
            "planned_steps": self.planned_steps,
            "epochs_done": round(self.epochs_done, 3),
            "train_pairs": self.train_pairs,
            "wall_time_s": round(self.wall_time_s, 1),
            "stopped_by_budget": self.stopped_by_budget,
            "eval_history": [h for h in self.log_history if any(k.startswith("eval_") for k in h)],
        }


def _steps(n_rows: int, batch_size: int, epochs: float, max_steps: int | None = None) -> tuple[int, int]:
    """(steps per epoch, planned steps) of ``epochs`` over ``n_rows`` rows, at most ``max_steps``."""
    per_epoch = math.ceil(n_rows / batch_size)
    planned = int(math.ceil(per_epoch * epochs))
    return per_epoch, planned if max_steps is None else min(planned, max_steps)


def _no_widget_examples(model: Any) -> None:
    """Skip the Hub model-card widget examples sentence-transformers computes when a trainer is built
    (hub metadata we never publish; it also draws a progress bar)."""
    card = getattr(model, "model_card_data", None)
    if card is not None and hasattr(card, "generate_widget_examples"):
        card.generate_widget_examples = False


def _quiet(trainer: Any, progress: bool) -> Any:
    """Without ``progress``, take the trainer's reporter off: with ``disable_tqdm`` set, transformers adds a
    ``PrinterCallback`` that prints every log dict (in a notebook, dozens of lines). Nothing is lost:
    the logs stay in ``trainer.state.log_history`` (:attr:`TrainResult.log_history`)."""
    if not progress:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


def _run(trainer: Any, budget: WallTimeBudgetCallback, planned: int, per_epoch: int, rows: int
         ) -> TrainResult:
    """Train and report what happened."""
    t0 = time.monotonic()
    trainer.train()
    wall = time.monotonic() - t0
    steps = trainer.state.global_step
    return TrainResult(steps=steps, planned_steps=planned, epochs_done=steps / per_epoch, train_pairs=rows,
                       wall_time_s=wall, stopped_by_budget=budget.stopped_early,
                       log_history=list(trainer.state.log_history))


def train_cross_encoder(
    model: Any,
    train_pairs: Sequence[tuple[str, str, float]],
    output_dir: str | Path,
    evaluator: Any = None,
    epochs: float = 1.0,
    batch_size: int = 16,
    lr_body: float = 4e-5,
    lr_head: float = 1e-3,
    warmup_ratio: float = 0.1,
    budget_s: float = 900.0,
    eval_steps: int = 200,
    seed: int = 12,
    max_steps: int | None = None,
    budget_schedule: bool = False,
    logging_steps: int | None = None,
    device: str | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train with ``CrossEncoderTrainer`` + ``BinaryCrossEntropyLoss`` (soft labels allowed).

    ``max_steps`` caps the planned steps. The ``WallTimeBudgetCallback`` stops training after
    ``budget_s``; with ``budget_schedule`` the linear decay is re-fitted to end at the budget
    (step count then depends on machine speed, and is recorded). ``device`` "cpu" keeps the trainer on
    the CPU (default: the training device). ``progress`` shows the trainer's progress bar (the command
    line does); without it training prints nothing, and the losses are in the result's ``log_history``.
    """
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    set_seed(seed)
    ds = pairs_to_dataset(train_pairs)
    per_epoch, planned = _steps(len(ds), batch_size, epochs, max_steps)
    opt, sched, schedule = make_optimizer(model, lr_body, lr_head, planned, warmup_ratio)
    budget_cb = WallTimeBudgetCallback(budget_s, schedule if budget_schedule else None)
    args = CrossEncoderTrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=math.ceil(epochs),
        max_steps=planned,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64,
        seed=seed,
        data_seed=seed,
        logging_steps=logging_steps or max(1, min(50, eval_steps)),
        eval_strategy="steps" if evaluator is not None else "no",
        eval_steps=eval_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=(device or train_device()) == "cpu",
        dataloader_num_workers=0,
        disable_tqdm=not progress,
    )
    _no_widget_examples(model)
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=ds,
                                  loss=BinaryCrossEntropyLoss(model), evaluator=evaluator,
                                  callbacks=[budget_cb], optimizers=(opt, sched))
    return _run(_quiet(trainer, progress), budget_cb, planned, per_epoch, len(ds))


def train_bi_encoder(
    model: Any,
    coll: Dataset,
    negatives: dict[str, list[str]] | None,
    output_dir: str | Path,
    max_positives: int = 8,
    epochs: float = 1.0,
    batch_size: int = 16,
    lr: float = 2e-5,
    budget_s: float = 300.0,
    seed: int = 12,
    evaluator: Any = None,
    eval_steps: int = 50,
    logging_steps: int = 10,
    device: str | None = None,
    progress: bool = False,
) -> TrainResult:
    """Fine-tune a SentenceTransformer with MultipleNegativesRankingLoss.

    Rows are (query, positive) or, with ``negatives``, (query, positive, hard negative)
    (:func:`ragcompare.train.data.contrastive_rows`); the loss always adds the other in-batch
    documents as negatives. ``device`` and ``progress`` as for :func:`train_cross_encoder`.
    """
    from datasets import Dataset as HFDataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    set_seed(seed)
    ds = HFDataset.from_dict(contrastive_rows(coll, negatives, max_positives, seed)).shuffle(seed=seed)
    per_epoch, planned = _steps(len(ds), batch_size, epochs)
    budget_cb = WallTimeBudgetCallback(budget_s)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=math.ceil(epochs),
        max_steps=planned,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        warmup_steps=0.1,  # below 1: a fraction of the steps (transformers 5 deprecates warmup_ratio)
        seed=seed,
        data_seed=seed,
        batch_sampler="no_duplicates",
        logging_steps=logging_steps,
        eval_strategy="steps" if evaluator is not None else "no",
        eval_steps=eval_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=(device or train_device()) == "cpu",
        disable_tqdm=not progress,
    )
    _no_widget_examples(model)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                         loss=MultipleNegativesRankingLoss(model), evaluator=evaluator,
                                         callbacks=[budget_cb])
    return _run(_quiet(trainer, progress), budget_cb, planned, per_epoch, len(ds))
