"""The benchmark's rows, one module per group; each module's ``measure()`` runs its sides
interleaved and returns a `fgbench.model.Section`."""
