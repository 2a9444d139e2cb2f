"""The installation the bench sweeps: made by `spoolrun setup`, its configuration adjusted,
and put back to a fresh state before each run."""
import glob
import os
import re
import shutil

from . import sh


class Installation:
    def __init__(self, binary, work):
        self.binary = binary
        self.dir = os.path.join(work, "inst")
        self.config = os.path.join(self.dir, "spoolrun.toml")
        self.gateway = self.dir + "-gateway"
        self.keys = os.path.join(self.dir, "keys")
        self.spool = os.path.join(self.dir, "spool")
        self.archive = os.path.join(self.spool, "archive")
        self.www = os.path.join(self.dir, "www")
        self.state = os.path.join(self.dir, "state")
        self._fresh_state = os.path.join(work, "fresh-state")

    def setup(self):
        sh(self.binary, "setup", "--dir", self.dir, "--recipient-address", "webmail@portal.test",
           "--sender-address", "webmail-sender@gateway.test")
        # The state folder as setup left it, before any sweep: putting it back gives a
        # fresh state store without the bench knowing which files the store keeps.
        shutil.copytree(self.state, self._fresh_state, symlinks=True)
        # Mail goes to a stub that accepts everything (exit 0): the sweep still composes,
        # queues and hands over one notification per message, without a real MTA's cost.
        text = open(self.config).read()
        text = re.sub(r'(?m)^sendmail = .*$', 'sendmail = "/bin/true"', text)
        open(self.config, "w").write(text)

    def sweep_command(self):
        return [self.binary, "run", "--quiet", "--config", self.config]

    def set_workers(self, workers):
        text = open(self.config).read()
        text = re.sub(r"\n\[limits\]\n(workers = \d+\n)?", f"\n[limits]\nworkers = {workers}\n", text)
        open(self.config, "w").write(text)

    def reset(self, messages):
        """Empties the spool and the mailboxes, puts back the fresh state, delivers `messages`."""
        for sub in ("new", "archive", "failed"):
            for f in glob.glob(os.path.join(self.spool, sub, "*")):
                os.unlink(f)
        shutil.rmtree(self.state)
        # copytree keeps the modes (copy2, copystat): the state folder stays 0700, its files
        # 0600, as the state folder's privacy check demands.
        shutil.copytree(self._fresh_state, self.state, symlinks=True)
        shutil.rmtree(os.path.join(self.www, "m"), ignore_errors=True)
        shutil.rmtree(os.path.join(self.www, "k"), ignore_errors=True)
        self.deliver(messages)

    def deliver(self, files):
        """Links `files` into spool/new under their own names."""
        for f in files:
            os.link(f, os.path.join(self.spool, "new", os.path.basename(f)))

    def archived(self):
        return len(os.listdir(self.archive))

    def drop_mailbox_files(self):
        """Removes www/m/, the rendered mailboxes: `spoolrun reprocess --all` then seals and
        writes every message again from the archive (docs/operations.md: www/m/ is rebuilt
        from the archive), which is what a render forced for every message costs."""
        shutil.rmtree(os.path.join(self.www, "m"))
