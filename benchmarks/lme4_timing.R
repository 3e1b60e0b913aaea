# The mixed model of benchmarks/run.py fitted by lme4::lmer, timing only the fit.
#
#   Rscript benchmarks/lme4_timing.R DATA.csv "FORMULA" REML REPEATS OUT.csv
#
# DATA.csv: the complete cases the Python fit used (written by benchmarks/run.py);
# FORMULA: an lme4 formula such as "identity ~ contact * interspersed + ... + (1 | comm_id)";
# REML: TRUE or FALSE; REPEATS: how many times to fit (the shortest time is reported).
# OUT.csv: one row per number, columns kind, term, value (kind: fixef, se, var, residual,
# loglik, seconds, seconds_all, n_obs, n_groups, version).
suppressPackageStartupMessages(library(lme4))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 5) {
  stop("usage: Rscript lme4_timing.R DATA.csv FORMULA REML REPEATS OUT.csv")
}
data <- utils::read.csv(args[1], stringsAsFactors = FALSE)
form <- stats::as.formula(args[2])
reml <- as.logical(args[3])
repeats <- as.integer(args[4])
group <- all.vars(lme4::findbars(form)[[1]][[3]])[1]
data[[group]] <- factor(data[[group]])

lmer(form, data = data, REML = reml)            # warm-up: loads compiled code, not timed
times <- numeric(repeats)
for (i in seq_len(repeats)) {
  gc()
  t0 <- proc.time()[["elapsed"]]
  fit <- lmer(form, data = data, REML = reml)
  times[i] <- proc.time()[["elapsed"]] - t0
}

fe <- fixef(fit)
se <- sqrt(diag(as.matrix(vcov(fit))))
vc <- as.data.frame(VarCorr(fit))
re <- vc[vc$grp != "Residual" & is.na(vc$var2), ]
out <- rbind(
  data.frame(kind = "fixef", term = names(fe), value = unname(fe)),
  data.frame(kind = "se", term = names(se), value = unname(se)),
  data.frame(kind = "var", term = re$var1, value = re$vcov),
  data.frame(kind = "residual", term = "", value = vc$vcov[vc$grp == "Residual"]),
  data.frame(kind = "loglik", term = "", value = as.numeric(logLik(fit))),
  data.frame(kind = "seconds", term = "", value = min(times)),
  data.frame(kind = "seconds_all", term = paste(round(times, 3), collapse = " "), value = NA),
  data.frame(kind = "n_obs", term = "", value = nobs(fit)),
  data.frame(kind = "n_groups", term = group, value = unname(ngrps(fit)[group])),
  data.frame(kind = "version", term = paste0("lme4 ", packageVersion("lme4"), ", ", R.version.string), value = NA)
)
utils::write.csv(out, args[5], row.names = FALSE)
