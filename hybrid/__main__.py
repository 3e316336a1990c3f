import sys

from hybrid.product.cli import main

sys.exit(main())
