"""A training run for the DDP and resume tests, as a script (Lightning's DDP launcher re-executes the script for
rank 1). argv: JSON of configuration keys, then optional flags: --record DIR (each rank writes the checksums of its
training batches), --kill-at N (SIGKILL this process at the end of step N), --resume RUN_DIR."""

import json
import os
import signal
import sys

import rawvision  # noqa: F401
import lightning as L
import torch

from rawvision.config import config_class
from rawvision.runner import run


class Record(L.Callback):
    def __init__(self, out):
        self.out, self.rows = out, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.rows.append([trainer.global_step, float(batch["rgb"].double().sum()), float(batch["raw"].double().sum()),
                          str(trainer.default_root_dir)])  # the run directory this rank resolved
        with open(os.path.join(self.out, f"rank{trainer.global_rank}.json"), "w") as f:
            json.dump(self.rows, f)


class Kill(L.Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main(argv):
    keys = json.loads(argv[0])
    flags = dict(zip(argv[1::2], argv[2::2]))
    callbacks = []
    if "--record" in flags:
        callbacks.append(Record(flags["--record"]))
    if "--kill-at" in flags:
        callbacks.append(Kill(int(flags["--kill-at"])))
    torch.set_num_threads(1)
    if "--resume" in flags:
        run(None, resume=flags["--resume"], callbacks=callbacks)
    else:
        run(config_class(keys.pop("task", "classification"))(**keys), callbacks=callbacks)


if __name__ == "__main__":
    main(sys.argv[1:])
