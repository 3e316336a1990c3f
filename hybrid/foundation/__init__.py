"""The foundation floor: what every model and the product build on, importing nothing above it.

The data protocol (`data`), the forecaster interface (`forecaster`), metrics, period detection
(`periods`), the forecast cache (`cache`), the registry of models by name (`registry`), typed
settings turned into flags (`settings`), errors, paths and run provenance (`runinfo`).
"""
