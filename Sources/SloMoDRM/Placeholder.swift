public enum SloMoDRMPlaceholder {}
