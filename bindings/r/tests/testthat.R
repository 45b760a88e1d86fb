library(testthat)
library(ember)

test_check("ember")
