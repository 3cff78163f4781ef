// Region: see RegionTests
