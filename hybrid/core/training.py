"""Training the core: AdamW, warm-up then cosine, clipping, early stopping, checkpoints, resume;
on the process's device, data-parallel over several processes (`hybrid.core.distributed`).

Checkpoints are safetensors (tensors: the trainable weights, the optimizer's moments, the torch
RNG state) beside a JSON file (everything else). Never a pickle.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from hybrid.core.config import EVAL_BATCH, TrainConfig
from hybrid.core.distributed import accelerator, device, is_main, shard
from hybrid.core.model import TimeLLM


def _batch(arrays: tuple[np.ndarray, ...], index: np.ndarray, on: torch.device) -> list[torch.Tensor]:
    return [torch.as_tensor(a[index], dtype=torch.float32, device=on) for a in arrays]


class Trainer:
    """Trains a `TimeLLM` on windows [N, L] -> [N, H] (one series each).

    A set of windows is a tuple of arrays: the model's inputs (look-backs [N, L], then the hint
    arrays when the core reads hints), then the targets [N, H].
    """

    def __init__(self, model: TimeLLM, config: TrainConfig, checkpoint_dir: Path | None = None,
                 progress: bool = True, about: dict | None = None) -> None:
        self.model = model.to(device())
        # the model as the training steps call it: wrapped so that its gradients are averaged over the
        # processes where there are several (the forecasts call the model itself)
        self.net = accelerator().prepare_model(self.model)
        self.about = about or {}  # written into each checkpoint's JSON (what made the model)
        self.config = config
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.progress = progress
        self.params = dict((n, p) for n, p in model.named_parameters() if p.requires_grad)
        self.optimizer = torch.optim.AdamW(self.params.values(), lr=config.lr, weight_decay=config.weight_decay)
        self.epoch = 0
        self.step = 0
        self.best_val = math.inf
        self.bad_epochs = 0
        self.history: list[dict] = []
        self.best_state: dict[str, torch.Tensor] | None = None

    def _lr(self, total_steps: int) -> float:
        warm = max(1, int(self.config.warmup_fraction * total_steps))
        if self.step < warm:
            return self.config.lr * (self.step + 1) / warm
        progress = (self.step - warm) / max(1, total_steps - warm)
        return self.config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def evaluate(self, *windows: np.ndarray, batch_size: int = EVAL_BATCH) -> float:
        """MSE over every window."""
        *inputs, y = windows
        forecast = self.model.forecast(inputs, batch_size, "validation", self.progress)
        return float(np.mean((forecast.astype(np.float64) - y) ** 2))

    def fit(self, train: tuple[np.ndarray, ...], val: tuple[np.ndarray, ...]) -> list[dict]:
        cfg = self.config
        if cfg.score_start and self.epoch == 0 and not self.history:
            start = time.perf_counter()
            self.best_val = self.evaluate(*val)
            self.best_state = self._snapshot()
            self.history.append({"epoch": 0, "train_mse": None, "val_mse": self.best_val,
                                 "seconds": time.perf_counter() - start})
            if self.progress:
                tqdm.write(f"before training: val MSE {self.best_val:.4f}")
            if self.checkpoint_dir:  # the start is the best until an epoch beats it
                self.save(self.checkpoint_dir / "best")
        n_per_epoch = cfg.epoch_windows(len(train[0]))
        steps_per_epoch = math.ceil(n_per_epoch / cfg.batch_size)
        total_steps = steps_per_epoch * cfg.epochs
        n_processes, on = accelerator().num_processes, device()
        started = time.perf_counter()
        while self.epoch < cfg.epochs and self.bad_epochs < cfg.patience:
            order = np.random.default_rng(cfg.seed + self.epoch).permutation(len(train[0]))[:n_per_epoch]
            self.model.train()
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {self.epoch + 1}/{cfg.epochs}", leave=False,
                       disable=not self.progress, unit="batch")
            epoch_start, losses = time.perf_counter(), []
            for b in bar:
                rows = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                if len(rows) < n_processes:  # a last batch too small to give every process a row: all skip it
                    continue
                *inputs, yb = _batch(train, rows[shard(len(rows))], on)  # this process's share of the batch
                for group in self.optimizer.param_groups:
                    group["lr"] = self._lr(total_steps)
                loss = torch.nn.functional.mse_loss(self.net(*inputs), yb)
                # weighted by the share's size, so that the processes' average is the whole batch's mean
                # even where the batch does not split evenly
                share = len(yb) * n_processes / len(rows)
                self.optimizer.zero_grad(set_to_none=True)
                (loss * share).backward()  # over several processes the wrapper averages the gradients here
                torch.nn.utils.clip_grad_norm_(self.params.values(), cfg.clip)
                self.optimizer.step()
                self.step += 1
                losses.append(loss.item())
                rate = (b + 1) * cfg.batch_size / (time.perf_counter() - epoch_start)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", windows_per_s=f"{rate:.0f}")
            train_seconds = time.perf_counter() - epoch_start
            val_mse = self.evaluate(*val)
            self.epoch += 1
            improved = val_mse < self.best_val
            self.best_val = min(self.best_val, val_mse)
            self.bad_epochs = 0 if improved else self.bad_epochs + 1
            if improved:
                self.best_state = self._snapshot()
            self.history.append({"epoch": self.epoch, "train_mse": float(np.mean(losses)), "val_mse": val_mse,
                                 "seconds": time.perf_counter() - epoch_start, "train_seconds": train_seconds,
                                 "train_windows": n_per_epoch})
            if self.progress:
                tqdm.write(f"epoch {self.epoch}: train MSE {np.mean(losses):.4f}, val MSE {val_mse:.4f}"
                           f"{' (best so far)' if improved else ''}, {self.history[-1]['seconds']:.0f} s")
            if self.checkpoint_dir:
                self.save(self.checkpoint_dir / "last")
                if improved:
                    self.save(self.checkpoint_dir / "best")
            spent = time.perf_counter() - started
            if cfg.time_budget is not None and spent + self.history[-1]["seconds"] > cfg.time_budget:
                break
        return self.history

    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.params.items()}

    def restore_best(self) -> None:
        """Put the weights of the best validation epoch back into the model."""
        if self.best_state is not None:
            with torch.no_grad():
                for name, p in self.params.items():
                    p.copy_(self.best_state[name])

    # ---- checkpoints: safetensors + JSON

    def _tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"param.{n}": p.detach().contiguous() for n, p in self.params.items()}
        for name, p in self.params.items():
            for key, value in self.optimizer.state.get(p, {}).items():
                if torch.is_tensor(value):
                    tensors[f"optim.{name}.{key}"] = value.contiguous()
        tensors["rng.torch"] = torch.get_rng_state()
        return tensors

    def save(self, stem: Path) -> None:
        if not is_main():  # every process holds the same weights: one writes them
            return
        stem.parent.mkdir(parents=True, exist_ok=True)
        save_file(self._tensors(), f"{stem}.safetensors")
        meta = {"epoch": self.epoch, "step": self.step, "best_val": self.best_val, "bad_epochs": self.bad_epochs,
                "history": self.history, "train_config": asdict(self.config),
                "core_config": asdict(self.model.config), "backbone": self.model.backbone.name,
                "llm_layers": self.model.backbone.n_layers, "about": self.about}
        Path(f"{stem}.json").write_text(json.dumps(meta, indent=1))

    def load(self, stem: Path, weights_only: bool = False) -> None:
        """Restore a checkpoint; with `weights_only`, just the trainable weights (for predicting)."""
        tensors = load_file(f"{stem}.safetensors", device=str(device()))
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(tensors[f"param.{name}"])
        if weights_only:
            return
        meta = json.loads(Path(f"{stem}.json").read_text())
        for name, p in self.params.items():
            state = {k.rsplit(".", 1)[-1]: v for k, v in tensors.items() if k.startswith(f"optim.{name}.")}
            if state:
                self.optimizer.state[p] = state
        torch.set_rng_state(tensors["rng.torch"].cpu())
        self.epoch, self.step = meta["epoch"], meta["step"]
        self.best_val, self.bad_epochs, self.history = meta["best_val"], meta["bad_epochs"], meta["history"]
