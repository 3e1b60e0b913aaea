#!/usr/bin/env Rscript
# Reference numbers for pipeline/stats/reliability.py, computed with R's psych and lavaan.
#
# Run from the repository root:   Rscript tests/reference/psych_reliability.R
# Writes tests/reference/data/bfi.csv (the data subset) and tests/reference/psych_reliability.json.
# The Python tests only read those two files; they never need R.
#
# Data: psych::bfi, 2800 respondents of the SAPA project (Revelle, Wilt & Rosenthal 2010;
# Revelle 2022, psych: Procedures for Psychological, Psychometric, and Personality Research,
# https://CRAN.R-project.org/package=psych). 25 personality items on a 1-6 scale.
# Scales used: Agreeableness A1-A5 (A1 reverse-keyed as 7 - A1) and Conscientiousness C1-C5
# (C4 and C5 reverse-keyed as 7 - x). Missing values are kept, so psych's pairwise handling is
# exercised.
suppressPackageStartupMessages({
  library(psych)
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
data(bfi, package = "psych")

keep <- c(paste0("A", 1:5), paste0("C", 1:5), "gender", "education", "age")
out <- data.frame(id = rownames(bfi), bfi[, keep], check.names = FALSE)
write.csv(out, file.path(here, "data", "bfi.csv"), row.names = FALSE, na = "")

# Read the CSV back, so R computes from exactly the bytes the Python tests read.
d <- read.csv(file.path(here, "data", "bfi.csv"))
scales <- list(
  agreeableness = list(items = paste0("A", 1:5), reverse = "A1"),
  conscientiousness = list(items = paste0("C", 1:5), reverse = c("C4", "C5")),
  # two items: psych's special case for k = 2 (totals only; no omega, one factor is not identified)
  agreeableness_two_items = list(items = c("A2", "A3"), reverse = character(0))
)

keyed <- function(sc) {
  x <- d[, sc$items]
  for (r in sc$reverse) x[[r]] <- 7 - x[[r]]
  x
}

df_to_list <- function(df) {
  # data frame of numbers -> list(column -> named list(row -> value))
  res <- list()
  for (cn in colnames(df)) {
    v <- as.numeric(df[[cn]])
    names(v) <- rownames(df)
    res[[cn]] <- as.list(v)
  }
  res
}

one_factor <- function(x, use) {
  items <- colnames(x)
  model <- paste("f =~", paste(items, collapse = " + "))
  if (use == "complete") {
    fit <- cfa(model, data = x, std.lv = TRUE, estimator = "ML")  # default missing = "listwise"
  } else {
    S <- cov(x, use = "pairwise.complete.obs")
    n_pair <- crossprod(!is.na(as.matrix(x)))
    fit <- cfa(model, sample.cov = S, sample.nobs = min(n_pair), std.lv = TRUE,
               estimator = "ML", sample.cov.rescale = FALSE)
  }
  pe <- parameterEstimates(fit, standardized = TRUE)
  lam <- pe[pe$op == "=~", ]
  th <- pe[pe$op == "~~" & pe$lhs == pe$rhs & pe$lhs %in% items, ]
  lambda <- setNames(lam$est, lam$rhs)[items]
  theta <- setNames(th$est, th$lhs)[items]
  fm <- fitMeasures(fit, c("chisq", "df", "pvalue", "cfi", "rmsea", "srmr"))
  list(
    use = use,
    n = lavInspect(fit, "nobs"),
    converged = lavInspect(fit, "converged"),
    loadings = as.list(lambda),
    residual_variances = as.list(theta),
    std_loadings = as.list(setNames(lam$std.all, lam$rhs)[items]),
    omega_total = sum(lambda)^2 / (sum(lambda)^2 + sum(theta)),
    fmin = as.numeric(fitMeasures(fit, "fmin")),
    chisq = as.numeric(fm["chisq"]), df = as.numeric(fm["df"]),
    pvalue = as.numeric(fm["pvalue"]), cfi = as.numeric(fm["cfi"]),
    rmsea = as.numeric(fm["rmsea"]), srmr = as.numeric(fm["srmr"])
  )
}

results <- list()
for (nm in names(scales)) {
  sc <- scales[[nm]]
  x <- keyed(sc)
  a <- psych::alpha(x)  # defaults: use = "pairwise", cumulative = FALSE (total = item mean)
  tot <- a$total
  total <- list(
    raw_alpha = tot$raw_alpha, std_alpha = tot$std.alpha, G6_smc = tot[["G6(smc)"]],
    average_r = tot$average_r, signal_noise = tot[["S/N"]], ase = tot$ase,
    mean = tot$mean, sd = tot$sd, median_r = tot$median_r, var_r = unname(a$var.r)
  )
  drop <- a$alpha.drop
  rownames(drop) <- sc$items
  colnames(drop) <- c("raw_alpha", "std_alpha", "G6_smc", "average_r", "signal_noise",
                      "alpha_se", "var_r", "median_r")
  st <- a$item.stats
  rownames(st) <- sc$items
  colnames(st) <- c("n", "raw_r", "std_r", "r_cor", "r_drop", "mean", "sd")
  res <- list(
    items = I(sc$items), reverse_keyed_as_7_minus = I(sc$reverse), n_rows = nrow(x),
    alpha = list(
      total = total,
      feldt = list(lower = a$feldt$lower.ci[[1]], upper = a$feldt$upper.ci[[1]]),
      alpha_drop = df_to_list(drop),
      item_stats = df_to_list(st)
    )
  )
  if (length(sc$items) >= 3) {
    # psych::omega with one factor (minres on the pairwise correlations, observed total
    # variance in the denominator): stored for information only, the Python code does not use it.
    om <- suppressWarnings(suppressMessages(psych::omega(x, nfactors = 1, plot = FALSE)))
    res$omega_cfa_complete <- one_factor(x, "complete")
    res$omega_cfa_pairwise <- one_factor(x, "pairwise")
    res$psych_omega_nfactors1_info <- list(omega_tot = unname(om$omega.tot), alpha = unname(om$alpha))
  }
  results[[nm]] <- res
}

meta <- list(
  generated_by = "tests/reference/psych_reliability.R",
  r_version = R.version.string,
  packages = list(psych = as.character(packageVersion("psych")),
                  lavaan = as.character(packageVersion("lavaan")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  data = paste0("psych::bfi (psych ", packageVersion("psych"), "), columns ",
               paste(keep, collapse = ", "), "; saved as tests/reference/data/bfi.csv, ",
               "empty cell = NA; id = the row name of psych::bfi"),
  citation = paste("Revelle, W. (2022) psych: Procedures for Psychological, Psychometric, and",
                   "Personality Research. Northwestern University, Evanston, Illinois.",
                   "https://CRAN.R-project.org/package=psych. bfi: SAPA project,",
                   "Revelle, Wilt and Rosenthal (2010)."),
  conventions = list(
    alpha = "psych::alpha(x) with defaults: use = 'pairwise' covariances (n - 1 divisor), R = cov2cor(C), total score = row mean of the answered items",
    omega_cfa_complete = "lavaan::cfa('f =~ items', std.lv = TRUE, estimator = 'ML') on listwise-complete rows (N divisor); omega = (sum lambda)^2 / ((sum lambda)^2 + sum theta)",
    omega_cfa_pairwise = "lavaan::cfa on sample.cov = cov(x, use = 'pairwise.complete.obs') with sample.cov.rescale = FALSE and sample.nobs = the smallest pairwise n; same omega formula"
  )
)

writeLines(toJSON(list(meta = meta, scales = results), auto_unbox = TRUE, digits = NA,
                  pretty = TRUE, na = "null"),
           file.path(here, "psych_reliability.json"))
cat("wrote", file.path(here, "psych_reliability.json"), "\n")
