"""The Time-LLM core (Jin et al., ICLR 2024): a frozen LLM reprogrammed to read time series.

One module per piece of the paper, so that a reader of the paper finds each at once:
`revin` (RevIN), `patch` (PatchEmbedding), `prototypes` (TextPrototypes), `reprogramming`
(ReprogrammingLayer), `prompt` (PromptBuilder), `head` (OutputHead).
"""
