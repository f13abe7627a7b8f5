"""Reading inputs into the document contract and writing sharded Parquet."""
