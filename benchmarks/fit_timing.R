# One model of benchmarks/bench_fits.py fitted in R from formula to result, timed.
#
#   Rscript benchmarks/fit_timing.R DATA.csv KIND FORMULA CLUSTER REPEATS OUT.csv
#
# KIND: lmer (lme4::lmer, REML, the fixed effects' vcov), lm (lm + sandwich::vcovCL(type = "HC1")
# by CLUSTER) or glm (binomial glm + the same vcovCL). The timed part is the whole call from the
# data frame as read (text columns as character vectors: R makes the factors, as the pipeline
# does) to the coefficients and their standard errors. REPEATS timings of 10 fits each (the
# clock ticks in milliseconds) after one warm-up; the shortest mean is reported. OUT.csv: kind, term, value rows (kind: coef, se, seconds, seconds_all,
# version), as benchmarks/lme4_timing.R writes them.
suppressPackageStartupMessages({
  library(lme4)
  library(sandwich)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 6) {
  stop("usage: Rscript fit_timing.R DATA.csv KIND FORMULA CLUSTER REPEATS OUT.csv")
}
data <- utils::read.csv(args[1], stringsAsFactors = FALSE, encoding = "UTF-8")
kind <- args[2]
form <- stats::as.formula(args[3])
cluster <- stats::as.formula(paste("~", args[4]))
repeats <- as.integer(args[5])

fit_once <- function() {
  if (kind == "lmer") {
    fit <- lmer(form, data = data, REML = TRUE)
    V <- as.matrix(vcov(fit))
    b <- fixef(fit)
  } else if (kind == "lm") {
    fit <- lm(form, data = data)
    V <- vcovCL(fit, cluster = cluster, type = "HC1")
    b <- coef(fit)
  } else if (kind == "glm") {
    fit <- glm(form, family = binomial(), data = data)
    V <- vcovCL(fit, cluster = cluster, type = "HC1")
    b <- coef(fit)
  } else {
    stop("KIND must be lmer, lm or glm")
  }
  list(coef = b, se = sqrt(diag(V)))
}

res <- fit_once()                                   # warm-up: loads compiled code, not timed
times <- numeric(repeats)
inner <- 10L                                        # fits per timing: proc.time() ticks in ms
for (i in seq_len(repeats)) {
  gc()
  t0 <- proc.time()[["elapsed"]]
  for (j in seq_len(inner)) res <- fit_once()
  times[i] <- (proc.time()[["elapsed"]] - t0) / inner
}

version <- paste0("lme4 ", packageVersion("lme4"), ", sandwich ", packageVersion("sandwich"), ", ",
                  R.version.string)
out <- rbind(
  data.frame(kind = "coef", term = names(res$coef), value = unname(res$coef)),
  data.frame(kind = "se", term = names(res$se), value = unname(res$se)),
  data.frame(kind = "seconds", term = "", value = min(times)),
  data.frame(kind = "seconds_all", term = paste(round(times, 4), collapse = " "), value = NA),
  data.frame(kind = "version", term = version, value = NA)
)
utils::write.csv(out, args[6], row.names = FALSE, fileEncoding = "UTF-8")
