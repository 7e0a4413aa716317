"""A minimal Luigi task for tests that need luigid to run something."""

import luigi


class Touch(luigi.Task):
    path = luigi.Parameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.path)

    def run(self) -> None:
        with self.output().open("w") as fh:
            fh.write("done\n")
