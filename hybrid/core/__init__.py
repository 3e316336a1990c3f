"""The Time-LLM core (Jin et al., ICLR 2024): a frozen LLM reprogrammed to read time series.

One module per piece of the paper, so that a reader of the paper finds each at once:
`revin` (RevIN), `patch` (PatchEmbedding), `prototypes` (TextPrototypes), `reprogramming`
(ReprogrammingLayer), `prompt` (PromptBuilder), `backbone` (the frozen LLM, truncated, with its
prompt cache), `head` (OutputHead). `model` joins them (TimeLLM), `training` trains them, and
`forecaster` puts them behind the project's forecaster interface.
"""
