#!/usr/bin/env Rscript
# Reference numbers for end-to-end tests of studies that are not the demo (issue 15): two public
# data sets, each a study of another shape, with the numbers R gives for them.
#
# Run from the repository root:   Rscript tests/reference/study_references.R
# Reads  tests/reference/data/bfi.csv (written by psych_reliability.R from psych::bfi).
# Writes tests/reference/data/hsb_students.csv, tests/reference/data/hsb_schools.csv and
#        tests/reference/study_references.json.
# The Python tests only read those files; they never need R. tests/studies/build_data.py turns
# the CSVs into the raw files of a study (an SPSS export with Chinese labels, a school file).
#
# S1 "survey only, scales, no clusters": psych::bfi (SAPA project; Revelle, Wilt & Rosenthal
#    2010; psych, GPL >= 2; the items are from the public-domain IPIP, ipip.ori.org). 2800
#    respondents, items on 1-6. Scales agree = A1..A5 (A1 reverse-keyed) and consc = C1..C5 (C4,
#    C5 reverse-keyed). Scored as pipeline/stats/scoring.py scores: a reverse-keyed item is
#    min + max - x over its valid codes (1..6: 7 - x); the score is the mean of the answered items
#    when at least min_items are answered, else NA; min_items defaults to all the items of the
#    scale (pipeline/core/instrument.py: ScaleEntry.min_items None -> len(items)).
#    Model: lm(agree ~ consc + gender + age) on complete cases (gender numeric 1/2), classical
#    and sandwich::vcovHC(type = "HC1") covariances.
# S2 "multilevel, numeric cluster ids, a cluster-level covariate, no scales": nlme::MathAchieve
#    and nlme::MathAchSchool, the 1982 High School and Beyond subsample of Raudenbush & Bryk
#    (2002, Hierarchical Linear Models, 2nd ed.), distributed with nlme (GPL >= 2). 7185
#    students in 160 schools. Sector (0 public, 1 catholic) is a school variable: the models
#    need the school file merged on School.
#    Models: lmer(MathAch ~ SES + Sector + (1 | School), REML = TRUE) (fixed effects, model SEs,
#    variance components, REML log-likelihood; nlme::lme's containment df and lmerTest's
#    Satterthwaite df for information); the null model's ICC; lm(MathAch ~ SES + Sector) with
#    sandwich::vcovCL(cluster = ~School, type = "HC1") (CR1, the pipeline's covariance
#    "cluster") and clubSandwich::vcovCR(type = "CR2") with Satterthwaite df ("cluster_cr2").
suppressPackageStartupMessages({
  library(psych)
  library(nlme)
  library(lme4)
  library(lmerTest)
  library(sandwich)
  library(clubSandwich)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
ddir <- file.path(here, "data")

# R's "(Intercept)" is the pipeline's (patsy's) "Intercept"
term_names <- function(nm) sub("^\\(Intercept\\)$", "Intercept", nm)
named <- function(v, nm = names(v)) as.list(setNames(as.numeric(v), term_names(nm)))
se_of <- function(V) named(sqrt(diag(V)), rownames(V))

# ---------------------------------------------------------------------------------------------
# S1: bfi
# ---------------------------------------------------------------------------------------------
bfi <- read.csv(file.path(ddir, "bfi.csv"))
valid_codes <- 1:6
score <- function(d, items, reverse, min_items = length(items)) {
  x <- d[, items]
  for (r in reverse) x[[r]] <- min(valid_codes) + max(valid_codes) - x[[r]]
  answered <- rowSums(!is.na(x))
  s <- rowMeans(x, na.rm = TRUE)
  s[answered < min_items] <- NA
  list(score = s, keyed = x)
}
scales <- list(agree = list(items = paste0("A", 1:5), reverse = "A1"),
               consc = list(items = paste0("C", 1:5), reverse = c("C4", "C5")))
old <- fromJSON(file.path(here, "psych_reliability.json"))$scales
old_name <- c(agree = "agreeableness", consc = "conscientiousness")
s1_scales <- list()
for (nm in names(scales)) {
  sc <- scales[[nm]]
  r <- score(bfi, sc$items, sc$reverse)
  bfi[[nm]] <- r$score
  raw_alpha <- psych::alpha(r$keyed)$total$raw_alpha
  stored <- old[[old_name[[nm]]]]$alpha$total$raw_alpha
  if (abs(raw_alpha - stored) > 1e-12) stop("raw alpha of ", nm, " differs from psych_reliability.json")
  ok <- !is.na(r$score)
  s1_scales[[nm]] <- list(
    items = I(sc$items), reverse = I(sc$reverse), valid_codes = I(valid_codes),
    min_items = length(sc$items), raw_alpha = raw_alpha,
    n_scored = sum(ok), n_missing = sum(!ok), mean = mean(r$score[ok]), sd = sd(r$score[ok]),
    examples = as.list(setNames(r$score[1:6], bfi$id[1:6]))
  )
}
# respondents with a missing item get no score (min_items = all items)
stopifnot(all(is.na(bfi$agree) == (rowSums(is.na(bfi[, scales$agree$items])) > 0)))

ols_refs <- function(m, extra = list()) {
  s <- summary(m)
  nm <- names(coef(m))
  c(list(formula = deparse(formula(m)), terms = I(term_names(nm)), n_obs = nobs(m),
         df_resid = df.residual(m), r2 = s$r.squared, adj_r2 = s$adj.r.squared, sigma = s$sigma,
         coef = named(coef(m))), extra)
}
cc <- bfi[complete.cases(bfi[, c("agree", "consc", "gender", "age")]), ]
m1 <- lm(agree ~ consc + gender + age, data = cc)
s1_ols <- ols_refs(m1, list(
  n_rows = nrow(bfi), n_dropped = nrow(bfi) - nobs(m1),
  se = list(classical = se_of(vcov(m1)), hc1 = se_of(vcovHC(m1, type = "HC1"))),
  pipeline_default_covariance = "classical"
))

# ---------------------------------------------------------------------------------------------
# S2: High School and Beyond
# ---------------------------------------------------------------------------------------------
data(MathAchieve, package = "nlme")
data(MathAchSchool, package = "nlme")
# School is an *ordered factor* whose level order is not numeric: as.integer(School) would give
# the level index, not the school id; the id is as.integer(as.character(School)).
ma <- as.data.frame(MathAchieve)
students <- data.frame(
  student_id = seq_len(nrow(ma)),
  School = as.integer(as.character(ma$School)),
  Minority = as.integer(ma$Minority == "Yes"),
  Sex = ifelse(ma$Sex == "Male", 1L, 2L),
  SES = ma$SES,
  MathAch = ma$MathAch
)
schools <- data.frame(
  School = as.integer(as.character(MathAchSchool$School)),
  Size = as.integer(MathAchSchool$Size),
  Sector = as.integer(MathAchSchool$Sector == "Catholic"),
  PRACAD = MathAchSchool$PRACAD,
  DISCLIM = MathAchSchool$DISCLIM,
  HIMINTY = as.integer(as.character(MathAchSchool$HIMINTY)),
  MEANSES = MathAchSchool$MEANSES
)
stopifnot(!anyDuplicated(schools$School), setequal(students$School, schools$School))
write.csv(students, file.path(ddir, "hsb_students.csv"), row.names = FALSE, na = "")
write.csv(schools, file.path(ddir, "hsb_schools.csv"), row.names = FALSE, na = "")

# Read the CSVs back, so R computes from exactly the bytes the Python tests read.
st <- read.csv(file.path(ddir, "hsb_students.csv"))
sc <- read.csv(file.path(ddir, "hsb_schools.csv"))
hsb <- merge(st, sc[, c("School", "Sector")], by = "School", sort = FALSE)
hsb <- hsb[order(hsb$student_id), ]
meanses_gap <- tapply(st$SES, st$School, mean)[as.character(sc$School)] - sc$MEANSES

mixed_refs <- function(m, extra = list()) {
  vc <- as.data.frame(VarCorr(m))
  tau2 <- vc$vcov[vc$grp == "School"]
  sigma2 <- vc$vcov[vc$grp == "Residual"]
  nm <- names(fixef(m))
  c(list(formula = deparse(formula(m)), reml = isREML(m), terms = I(term_names(nm)),
         n_obs = nobs(m), n_groups = unname(ngrps(m)), coef = named(fixef(m)),
         se = list(model = se_of(as.matrix(vcov(m)))),
         var_intercept = tau2, residual_var = sigma2, icc = tau2 / (tau2 + sigma2),
         loglik = as.numeric(logLik(m)), theta = unname(getME(m, "theta")),
         singular = isSingular(m)), extra)
}
f_mix <- MathAch ~ SES + Sector + (1 | School)
m_mix <- lmer(f_mix, data = hsb, REML = TRUE)
lme_mix <- lme(MathAch ~ SES + Sector, random = ~ 1 | School, data = hsb, method = "REML")
satt <- summary(lmerTest::lmer(f_mix, data = hsb, REML = TRUE))$coefficients
s2_mixed <- mixed_refs(m_mix, list(
  df = list(satterthwaite = named(satt[, "df"], rownames(satt))),
  nlme_lme = list(coef = named(fixef(lme_mix)), se = se_of(vcov(lme_mix)),
                  loglik = as.numeric(logLik(lme_mix)), df = named(lme_mix$fixDF$X))
))
m_null <- lmer(MathAch ~ 1 + (1 | School), data = hsb, REML = TRUE)
s2_null <- mixed_refs(m_null)

m_ols <- lm(MathAch ~ SES + Sector, data = hsb)
V_cr2 <- vcovCR(m_ols, cluster = hsb$School, type = "CR2")
ct <- coef_test(m_ols, vcov = V_cr2, test = "Satterthwaite")
s2_ols <- ols_refs(m_ols, list(
  n_clusters = length(unique(hsb$School)),
  se = list(classical = se_of(vcov(m_ols)),
            cluster = se_of(vcovCL(m_ols, cluster = ~School, type = "HC1")),
            cluster_hc0 = se_of(vcovCL(m_ols, cluster = ~School, type = "HC0")),
            cluster_cr2 = named(ct$SE, names(coef(m_ols)))),
  df = list(cluster = length(unique(hsb$School)) - 1,
            cluster_cr2 = named(ct$df_Satt, names(coef(m_ols))))
))

# ---------------------------------------------------------------------------------------------
meta <- list(
  generated_by = "tests/reference/study_references.R",
  r_version = R.version.string,
  packages = lapply(c(psych = "psych", nlme = "nlme", lme4 = "lme4", lmerTest = "lmerTest",
                      sandwich = "sandwich", clubSandwich = "clubSandwich", jsonlite = "jsonlite"),
                    function(p) as.character(packageVersion(p))),
  conventions = list(
    terms = "R's (Intercept) is written Intercept, the pipeline's term name",
    se_keys = paste("named by the pipeline's covariance (pipeline/stats/spec.py COVARIANCES):",
                    "classical = vcov(lm); hc1 = sandwich::vcovHC(type = 'HC1');",
                    "cluster = sandwich::vcovCL(cluster = ~School, type = 'HC1') (CR1, Stata's vce(cluster));",
                    "cluster_hc0 = vcovCL(type = 'HC0');",
                    "cluster_cr2 = clubSandwich::vcovCR(type = 'CR2') with coef_test Satterthwaite df;",
                    "model = lme4's vcov of the fixed effects"),
    mixed = paste("lme4::lmer(REML = TRUE); var_intercept and residual_var from VarCorr;",
                  "icc = var_intercept / (var_intercept + residual_var); loglik = logLik (the REML",
                  "criterion); df.satterthwaite = lmerTest, information only; nlme_lme = the same",
                  "model by nlme::lme(method = 'REML'), its df = fixDF (containment): for SES (varies",
                  "within schools, N - G - 1) and Sector (constant within, G - 2) these are the",
                  "pipeline's df_method between_within, but nlme gives the intercept the within df",
                  "N - G - 1 where the pipeline's rule gives G - p_b = G - 2"),
    scores = paste("reverse-keyed item = min + max - x over the valid codes 1..6; score = mean of",
                   "the answered items when at least min_items (default: all) are answered, else NA")
  )
)
datasets <- list(
  bfi = list(
    files = I("tests/reference/data/bfi.csv"),
    source = paste0("psych::bfi (psych ", packageVersion("psych"), "), the SAPA project: Revelle, ",
                    "Wilt and Rosenthal (2010); 25 IPIP items (ipip.ori.org), of which A1-A5 and ",
                    "C1-C5 are kept with gender, education, age; id = the row name"),
    licence = paste("psych is GPL (>= 2) (https://CRAN.R-project.org/package=psych); the IPIP",
                    "item texts are in the public domain"),
    n_rows = nrow(bfi)
  ),
  hsb = list(
    files = I(c("tests/reference/data/hsb_students.csv", "tests/reference/data/hsb_schools.csv")),
    source = paste0("nlme::MathAchieve and nlme::MathAchSchool (nlme ", packageVersion("nlme"),
                    "): the 1982 High School and Beyond subsample used by Raudenbush and Bryk ",
                    "(2002), Hierarchical Linear Models, 2nd ed.; School as an integer id, ",
                    "Minority 0 no / 1 yes, Sex 1 male / 2 female, Sector 0 public / 1 catholic, ",
                    "student_id = the row number of MathAchieve"),
    licence = "nlme is GPL (>= 2) (https://CRAN.R-project.org/package=nlme)",
    n_students = nrow(st), n_schools = nrow(sc),
    note_meanses = paste("MathAchSchool's MEANSES is not the mean SES of the students in the file:",
                         "mean(SES) - MEANSES lies in [", round(min(meanses_gap), 6), ",",
                         round(max(meanses_gap), 6), "] per school (SES was re-centred after",
                         "MEANSES was computed); derive a school mean from the students if it must agree")
  )
)
out <- list(
  meta = meta, datasets = datasets,
  s1_bfi = list(scales = s1_scales, models = list(ols_agree = s1_ols)),
  s2_hsb = list(models = list(mixed_ses_sector = s2_mixed, mixed_null = s2_null,
                              ols_ses_sector = s2_ols))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(here, "study_references.json"))
cat("wrote", file.path(here, "study_references.json"), "\n")
