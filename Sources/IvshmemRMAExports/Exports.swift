import RMA
