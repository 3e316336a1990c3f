"""The router's model floor: window features (`features`), the rows it learns from (`rows`) and its
modes (`routers`). Per-series selection, which fits members and a router, is the product's
(`hybrid.product.select`)."""
